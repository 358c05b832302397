"""EmbeddingBatcher.embed_here: a local, idle embedder embeds on the caller's thread; otherwise the caller batches."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from mnemo.activity import Activity
from mnemo.providers.embedding.base import PLAIN, EmbedderUnavailable, Vectors
from mnemo.providers.embedding.batcher import EmbeddingBatcher

pytestmark = pytest.mark.anyio


class Counting:
    """A tiny embedder: the vector of a text is its length on axis 0; it records the thread of every call."""

    name = "counting"
    dimensions = 2
    vector_space = "counting"
    query_prefix = "q: "
    passage_prefix = ""
    calibration = PLAIN

    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.threads: list[int] = []
        self.texts: list[str] = []
        self.gate = gate
        self.fail = fail

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.threads.append(threading.get_ident())
        self.texts.extend(texts)
        if self.gate is not None:
            self.gate.wait(5)
        if self.fail:
            raise RuntimeError("model file is corrupt")
        return np.array([[1.0, 0.0] for _ in texts], dtype=np.float32)


async def test_a_local_idle_embedder_embeds_on_the_callers_thread() -> None:
    embedder = Counting()
    batcher = EmbeddingBatcher(embedder, local=True)
    batcher.start()
    try:
        vector = batcher.embed_here("where do I live?")
        assert vector is not None and vector.tolist() == [1.0, 0.0]
        assert embedder.threads == [threading.get_ident()]
        assert embedder.texts == ["q: where do I live?"]  # a question carries the embedder's query prefix
    finally:
        await batcher.close()


async def test_a_remote_embedder_is_never_run_on_the_callers_thread() -> None:
    embedder = Counting()
    batcher = EmbeddingBatcher(embedder, local=False)
    batcher.start()
    try:
        assert batcher.embed_here("where do I live?") is None
        assert (await batcher.embed_query("where do I live?")).tolist() == [1.0, 0.0]
        assert embedder.threads and threading.get_ident() not in embedder.threads
        assert embedder.texts == ["q: where do I live?"]
    finally:
        await batcher.close()


async def test_a_busy_embedder_leaves_the_text_to_the_next_batch() -> None:
    gate = threading.Event()
    embedder = Counting(gate)
    batcher = EmbeddingBatcher(embedder, local=True)
    batcher.start()
    try:
        computing = asyncio.ensure_future(batcher.embed(["a fact being stored"]))
        while not embedder.threads:  # the batch has reached the embedder's thread
            await asyncio.sleep(0.01)
        assert batcher.embed_here("where do I live?") is None
        gate.set()
        await computing
        assert batcher.embed_here("where do I live?") is not None, "idle again"
    finally:
        gate.set()
        await batcher.close()


async def test_a_failing_model_is_an_unavailable_embedder() -> None:
    batcher = EmbeddingBatcher(Counting(fail=True), local=True)
    batcher.start()
    try:
        with pytest.raises(EmbedderUnavailable, match="model file is corrupt"):
            batcher.embed_here("where do I live?")
    finally:
        await batcher.close()


async def test_a_stopped_batcher_does_not_embed_here() -> None:
    assert EmbeddingBatcher(Counting(), local=True).embed_here("where do I live?") is None


async def test_one_text_to_store_is_embedded_on_the_thread_of_a_caller_alone_in_the_process() -> None:
    embedder = Counting()
    activity = Activity()
    batcher = EmbeddingBatcher(embedder, local=True, alone=activity.alone)
    batcher.start()
    me = threading.get_ident()
    try:
        with activity.working():  # a request
            assert (await batcher.embed(["I live in Lyon."])).tolist() == [[1.0, 0.0]]
            with activity.working():  # a second request in progress: the loop is theirs too
                await batcher.embed(["I work as a nurse."])
            await batcher.embed(["I have a cat.", "I drive a Volvo."])  # two texts: a batch
        assert embedder.threads[0] == me
        assert embedder.threads[1:] and me not in embedder.threads[1:]
        assert embedder.texts == ["I live in Lyon.", "I work as a nurse.", "I have a cat.", "I drive a Volvo."]
    finally:
        await batcher.close()


async def test_a_remote_embedder_never_embeds_a_text_to_store_on_the_callers_thread() -> None:
    embedder = Counting()
    batcher = EmbeddingBatcher(embedder, local=False, alone=lambda: True)
    batcher.start()
    try:
        await batcher.embed(["I live in Lyon."])
        assert embedder.threads and threading.get_ident() not in embedder.threads
    finally:
        await batcher.close()
