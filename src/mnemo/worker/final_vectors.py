"""Final vectors computed when the process is idle (``MNEMO_EMBEDDING_CONTEXT=deferred``; mnemo.pipeline.in_context).

A verbatim add under ``deferred`` stores a quick vector and queues the input of the final one. Each worker process
runs one :class:`FinalVectors` task: once the process has had no request or job for ``idle_seconds``, it claims a
few queued inputs, embeds them in one batch and stores the vectors; then it looks again. A small batch bounds how
long a request that arrives meanwhile waits for the embedder (a LoCoMo turn with its context: ~4-5 ms a text here).

A process that is never idle that long (steady traffic) would leave the queue alone for good. So an input queued for
``overdue_seconds`` is computed anyway, one at a time, and the task then rests so that it takes at most
``busy_share`` of the process's time: a request waits at most one text's model run for it.
Nothing is lost if the process dies: its claims lapse and another worker takes them.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
    #: how often to look again when nothing is queued (or, under traffic, overdue)
    poll_seconds: float = 1.0
    #: under traffic, how long an input waits for an idle moment before it is computed anyway
    overdue_seconds: float = 5.0
    #: under traffic, the most of the process's time that overdue inputs take
    busy_share: float = 0.25
    #: memories that took their final vector from this task
    stored: int = field(default=0, init=False)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        next_overdue_look = 0.0
        while not stop.is_set():
            idle = self.activity.idle_for()
            if idle >= self.idle_seconds:
                if not await self._attempt(self.batch, queued_for=0.0):
                    await _sleep(stop, self.poll_seconds)
                continue
            if time.monotonic() < next_overdue_look:
                await _sleep(stop, self.idle_seconds - idle)
                continue
            started = time.monotonic()
            if await self._attempt(1, queued_for=self.overdue_seconds):
                await _sleep(stop, (time.monotonic() - started) * (1 / self.busy_share - 1))
            else:
                next_overdue_look = time.monotonic() + self.poll_seconds

    async def _attempt(self, limit: int, *, queued_for: float) -> int:
        """One :meth:`_step`, with its faults logged: the task must outlive them, or the queue would stop for good."""
        try:
            return await self._step(limit, queued_for=queued_for)
        except (MnemoError, EmbedderUnavailable) as exc:
            logger.warning("computing final vectors failed; will retry: %s", exc)
        except Exception:
            logger.exception("computing final vectors crashed; will retry")
        return 0

    async def _step(self, limit: int, *, queued_for: float = 0.0) -> int:
        """Claim up to ``limit`` inputs queued at least ``queued_for`` seconds ago, embed them in one batch and store
        their vectors; how many there were (0: none)."""
        pending = await claim_pending(self.db, limit=limit, lease=_LEASE, queued_for=timedelta(seconds=queued_for))
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
