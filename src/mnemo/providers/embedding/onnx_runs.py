"""Running a sentence encoder's ONNX graph: threads, runs of similar length, padding, the session.

Shared by the local embedders (:mod:`.minilm_onnx`, :mod:`.e5_onnx`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mnemo.providers.embedding.base import PLAIN, Calibration, Vectors
from mnemo.providers.embedding.onnx_cache import Precision

TokenIds = npt.NDArray[np.int64]

# Upper bound on padded tokens per ONNX Runtime call (a lone longer text still runs). Bigger runs push the
# [tokens, 1536] feed-forward activations out of the CPU caches: on a 2-core EPYC, 64 short texts took
# 1.5x longer in one run of ~1100 tokens than in runs of <= 256 tokens, for fp32 and int8 alike.
MAX_TOKENS_PER_RUN = 256
# Padding a text may receive inside a sub-batch: a longer gap starts a new ONNX Runtime call (each one
# costs about as much as this many tokens' worth of compute).
PAD_SLACK_TOKENS = 32


def _cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    """Half the CPUs this process may run on (at least 1): the threads of a run of several texts.

    The embedder shares the machine with the event loop and PostgreSQL. On the 2-CPU machines of
    ``bench/README.md`` a second thread embedded batches no faster, while taking the CPU the rest of a
    request needs.
    """
    return max(1, _cpus() // 2)


#: A text alone runs on :func:`lone_threads` from this many tokens (a turn with its context: ~75-100); shorter ones,
#: a question among them, run on one thread. On the 2-CPU AMD machine of ``bench/README.md``, two threads took a
#: text of 104 tokens from 5.07 to 4.01 ms in-process when runs came back to back, but one of 19 tokens from 0.98
#: to 1.47 ms, and a search's question then also took the CPU its concurrent keyword leg needed.
LONE_THREADS_MIN_TOKENS = 64


def lone_threads() -> int:
    """The threads of a run of one long text (a verbatim message with its context; ``LONE_THREADS_MIN_TOKENS``),
    when the threads are not set: at least two where the process may run on two CPUs.

    A lone text is a request waiting for its vector, and nothing else is being embedded: on the 2-CPU AMD machine
    of ``bench/README.md`` a second thread took a turn with its context from 4.25 to 3.63 ms in-process, and
    1.1-1.5 ms off a verbatim add through the official client (an Intel machine measured it slower earlier). The
    gain is for runs that follow each other closely: after 10 ms or more without a run, the second thread has to
    be woken and two threads were 0.2-0.4 ms slower than one.
    """
    return max(default_threads(), min(2, _cpus()))


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


def session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads."""
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


def check_options(precision: str, max_batch: int) -> None:
    """Refuse what no local embedder can run (before any model file is built)."""
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be 'fp32' or 'int8', not {precision!r}")
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")


class OnnxEncoder:
    """A built sentence-encoder graph at work: texts become token ids (``tokenize``), runs of similar length
    (:func:`plan_batches`), the graph's inputs (``feeds``: from the padded ids and mask), then vectors."""

    def __init__(
        self,
        model_path: Path,
        *,
        tokenize: Callable[[Sequence[str]], list[list[int]]],
        feeds: Callable[[TokenIds, TokenIds], dict[str, Any]],
        dimensions: int,
        threads: int | None,
        max_batch: int,
    ) -> None:
        self.model_path = model_path
        self.dimensions = dimensions
        self._tokenize = tokenize
        self._feeds = feeds
        self._max_batch = max_batch
        self._session = session(model_path, max(1, threads) if threads else default_threads())
        #: Runs one long text (with the threads of :func:`lone_threads` unless the threads are set).
        wide = lone_threads()
        self._lone_session = session(model_path, wide) if not threads and wide != default_threads() else self._session

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return vectors
        ids = self._tokenize(texts)
        long_alone = len(texts) == 1 and len(ids[0]) >= LONE_THREADS_MIN_TOKENS
        runner = self._lone_session if long_alone else self._session
        for group in plan_batches([len(row) for row in ids], self._max_batch):
            input_ids, attention_mask = pad([ids[i] for i in group])
            (output,) = runner.run(["embeddings"], self._feeds(input_ids, attention_mask))
            vectors[group] = np.asarray(output, dtype=np.float32)
        return vectors


class PackagedOnnxEmbedder:
    """The :class:`~mnemo.providers.embedding.base.Embedder` port of a model shipped in a package and run by an
    :class:`OnnxEncoder`: what the model says of itself and its vectors. A model's class builds its encoder and
    sets what differs from these defaults (its prefixes, its :class:`Calibration`)."""

    query_prefix: str = ""
    passage_prefix: str = ""
    calibration: Calibration = PLAIN

    def __init__(self, model_name: str, precision: Precision, encoder: OnnxEncoder) -> None:
        self._model_name = model_name
        self._precision = precision
        self._encoder = encoder
        self.model_path = encoder.model_path

    @property
    def name(self) -> str:
        return f"{self._model_name}/onnx-{self._precision}"

    @property
    def vector_space(self) -> str:
        """One space for both precisions: int8 vectors stay within ~0.99 cosine of fp32's."""
        return self._model_name

    @property
    def dimensions(self) -> int:
        return self._encoder.dimensions

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self._encoder.embed(texts)
