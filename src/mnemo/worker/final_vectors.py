"""Final vectors computed when the process is idle (``MNEMO_EMBEDDING_CONTEXT=deferred``; mnemo.pipeline.in_context).

A verbatim add under ``deferred`` stores a quick vector and queues the input of the final one. Each worker process
runs one :class:`FinalVectors` task: once the process has had no request or job for ``idle_seconds``, it claims a
few queued inputs, embeds them in one batch and stores the vectors; then it looks again. A small batch bounds how
long a request that arrives meanwhile waits for the embedder (a LoCoMo turn with its context: ~4-5 ms a text here).
Nothing is lost if the process dies: its claims lapse and another worker takes them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from mnemo.activity import Activity
from mnemo.errors import MnemoError
from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import Database
from mnemo.storage.pending_vectors import claim_pending, store_final

logger = logging.getLogger(__name__)

#: How long a claim lasts: far longer than embedding a batch takes.
_LEASE = timedelta(seconds=60)


@dataclass(slots=True)
class FinalVectors:
    db: Database
    batcher: EmbeddingBatcher
    activity: Activity
    #: inputs embedded together: a request that arrives meanwhile waits for them
    batch: int = 4
    #: how long the process must have had no request or job
    idle_seconds: float = 0.2
    #: how often to look again when nothing is queued
    poll_seconds: float = 1.0
    #: memories that took their final vector from this task
    stored: int = field(default=0, init=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        while not stop.is_set():
            idle = self.activity.idle_for()
            if idle < self.idle_seconds:
                await _sleep(stop, self.idle_seconds - idle)
                continue
            try:
                done = await self.step()
            except (MnemoError, EmbedderUnavailable) as exc:
                logger.warning("computing final vectors failed; will retry: %s", exc)
                done = 0
            except Exception:  # a fault of this task must not end it: the queue would stop for good
                logger.exception("computing final vectors crashed; will retry")
                done = 0
            if not done:
                await _sleep(stop, self.poll_seconds)

    async def step(self) -> int:
        """Claim, embed and store one batch; how many inputs it held (0: none queued)."""
        pending = await claim_pending(self.db, limit=self.batch, lease=_LEASE)
        if not pending:
            return 0
        vectors = await self.batcher.embed([p.input for p in pending])
        self.stored += await store_final(self.db, pending, list(vectors))
        return len(pending)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
