"""The cache of built ONNX files: one per model, builder version and precision, built once per cache directory.

The int8 variant is the fp32 graph passed through ONNX Runtime's dynamic quantisation (MatMul weights only).
Files are named after the model, the builder version and the precision, and written to a temporary file then renamed, so
concurrent starters never see a half-written model and a changed builder never reuses a stale one.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from mnemo.providers.embedding.bert_graph import BUILDER_VERSION

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]


def cached_model_path(cache_dir: Path, model: str, precision: Precision) -> Path:
    return cache_dir / f"{model}.builder-v{BUILDER_VERSION}.{precision}.onnx"


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Run ``write`` on a temporary file next to ``target``, then rename it into place."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp.onnx")
    os.close(fd)
    temp = Path(temp_name)
    try:
        write(temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _save_fp32(build: Callable[[], Any], target: Path) -> None:
    import onnx

    model = build()
    _write_atomically(target, lambda path: onnx.save_model(model, str(path)))


def _save_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of every MatMul with constant weights (activations stay float).

    Per-channel weight scales and 7-bit weights (``reduce_range``): per-tensor scales lose too much on
    this model (cosine to fp32 down to ~0.9), and full-range int8 weights can saturate the u8 x s8
    kernels of AVX2 CPUs without VNNI.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def quantize(path: Path) -> None:
        with _no_implicit_root_handler():
            quantize_dynamic(
                source,
                path,
                op_types_to_quantize=["MatMul"],
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )

    _write_atomically(target, quantize)


@contextmanager
def _no_implicit_root_handler() -> Iterator[None]:
    """Keep the quantiser's ``logging.warning(...)`` calls from running ``logging.basicConfig()``.

    Those module-level calls install a stderr handler on the root logger when it has none, which would
    change the application's logging for good. A temporary ``NullHandler`` prevents that; if the root
    logger has handlers already, the quantiser's messages go to them as usual.
    """
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        yield
    finally:
        root.removeHandler(guard)


def ensure_model(cache_dir: Path, model: str, precision: Precision, build: Callable[[], Any]) -> Path:
    """The cached ONNX file of ``model`` at ``precision``, building it (and, for int8, its fp32 source) if absent;
    ``build`` returns the fp32 ``ModelProto``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fp32 = cached_model_path(cache_dir, model, "fp32")
    target = cached_model_path(cache_dir, model, precision)
    if target.is_file():
        return target
    logger.info("building %s (once per cache directory)", target.name)
    started = time.perf_counter()
    if not fp32.is_file():
        _save_fp32(build, fp32)
    if precision == "int8":
        _save_int8(fp32, target)
    logger.info("built %s in %.1f s", target, time.perf_counter() - started)
    return target
