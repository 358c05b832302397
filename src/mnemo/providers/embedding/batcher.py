"""Coalesces embedding requests from concurrent callers into batches.

One consumer task runs the (synchronous) embedder in a worker thread, one batch at a time. While a
batch computes, new requests queue up; the next batch takes all of them (up to ``max_batch`` texts).
So a lone query is embedded at once, with no waiting window, and a burst of requests is embedded at
batch throughput. The embedder's prefixes are put here: :meth:`EmbeddingBatcher.embed` takes texts to store
(``passage_prefix``), :meth:`EmbeddingBatcher.embed_query` and :meth:`EmbeddingBatcher.embed_here` questions
(``query_prefix``).

A local embedder (one that computes on this machine's CPU, never over a network) may also embed a short text
on the caller's thread when nothing else is being embedded (:meth:`EmbeddingBatcher.embed_here`): a search
alone on the server embeds its question while PostgreSQL runs its keyword statement, without handing the text
to the embedder's thread and back (measured in ``bench/README.md``: the question's vector came 1 ms sooner).
One text to store is embedded there too when the caller is the only work in progress (``alone``, from
:class:`mnemo.activity.Activity`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mnemo.observability import metrics
from mnemo.providers.embedding.base import Embedder, EmbedderUnavailable, Vectors

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    texts: Sequence[str]
    future: asyncio.Future[Vectors] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class EmbeddingBatcher:
    def __init__(
        self,
        embedder: Embedder,
        *,
        max_batch: int = 64,
        local: bool = False,
        alone: Callable[[], bool] = lambda: False,
    ) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        #: The embedder computes on this machine (not over a network): :meth:`embed_here` may run it.
        self.local = local
        #: Whether the caller is the only work in progress in the process (then one text to store is embedded on
        #: its thread, when the embedder is idle).
        self._alone = alone
        self._computing = False
        self._pending: deque[_Request] = deque()
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnemo-embed")
        self._task: asyncio.Task[None] | None = None

    @property
    def dimensions(self) -> int:
        return self.embedder.dimensions

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mnemo-embedding-batcher")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for request in self._pending:
            if not request.future.done():
                request.future.set_exception(EmbedderUnavailable("the embedder is shutting down"))
        self._executor.shutdown(wait=True)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for ``texts`` to store, computed together with whatever else is waiting; one text of a caller
        that is alone in the process, on the caller's thread (as :meth:`embed_here`)."""
        prefix = self.embedder.passage_prefix
        texts = [prefix + text for text in texts] if prefix else texts
        if len(texts) == 1 and self._alone() and (here := self._here(texts)) is not None:
            return here
        return await self._queued(texts)

    async def embed_query(self, question: str) -> Vectors:
        """The vector of a question (what a search or a lookup compares stored texts with)."""
        vectors = await self._queued([self.embedder.query_prefix + question])
        first: Vectors = vectors[0]
        return first

    async def _queued(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.embedder.dimensions), dtype=np.float32)
        if self._task is None:
            raise EmbedderUnavailable("the embedder is not running")
        request = _Request(texts)
        self._pending.append(request)
        self._wakeup.set()
        vectors: Vectors = await request.future
        return vectors

    def embed_here(self, question: str) -> Vectors | None:
        """The vector of a question computed on the calling thread, when the embedder is local and idle (no batch
        computing, none waiting); None otherwise (then :meth:`embed_query`). It blocks the caller for the
        model's run (a question: 1-2 ms), so the event loop should call it only when it has nothing else to do."""
        here = self._here([self.embedder.query_prefix + question])
        if here is None:
            return None
        first: Vectors = here[0]
        return first

    def _here(self, texts: Sequence[str]) -> Vectors | None:
        if not self.local or self._computing or self._pending or self._task is None:
            return None
        started = time.perf_counter()
        try:
            vectors = self.embedder.embed(texts)
        except Exception as exc:
            metrics.embedding_batch(1, time.perf_counter() - started, ok=False)
            if isinstance(exc, EmbedderUnavailable):
                raise
            logger.exception("embedding one text failed")
            raise EmbedderUnavailable(str(exc)) from exc
        metrics.embedding_batch(1, time.perf_counter() - started, ok=True)
        return vectors

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        size = 0
        while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_batch):
            request = self._pending.popleft()
            if request.future.cancelled():
                continue
            batch.append(request)
            size += len(request.texts)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = self._take_batch()
            if not batch:
                continue
            texts = [text for request in batch for text in request.texts]
            started = time.perf_counter()
            self._computing = True
            try:
                vectors = await loop.run_in_executor(self._executor, self.embedder.embed, texts)
            except Exception as exc:  # the embedder's failure belongs to every waiting caller
                metrics.embedding_batch(len(texts), time.perf_counter() - started, ok=False)
                logger.exception("embedding a batch of %d texts failed", len(texts))
                error = exc if isinstance(exc, EmbedderUnavailable) else EmbedderUnavailable(str(exc))
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
                continue
            finally:
                self._computing = False
            metrics.embedding_batch(len(texts), time.perf_counter() - started, ok=True)
            start = 0
            for request in batch:
                end = start + len(request.texts)
                if not request.future.done():
                    request.future.set_result(vectors[start:end])
                start = end
