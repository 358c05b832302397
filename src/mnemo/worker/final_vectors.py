"""Final vectors computed when the process is idle (``MNEMO_EMBEDDING_CONTEXT=deferred``; mnemo.pipeline.in_context).

A verbatim add under ``deferred`` stores a quick vector and queues the input of the final one. Each worker process
runs one :class:`FinalVectors` task, which computes them in the process's idle time:

- once it has had no request or job for ``brief_idle_seconds``, one input at a time: a request that arrives
  meanwhile waits for one text's model run at most (a LoCoMo turn with its context: ~4-6 ms here);
- once for ``idle_seconds``, ``batch`` inputs at a time (less CPU a text; a pause this long is rarely cut short);
- a process that is never idle that long (steady traffic) would leave the queue alone for good: so an input queued
  for ``overdue_seconds`` is computed anyway, one at a time, and the task then rests so that it takes at most
  ``busy_share`` of the process's time.

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
    #: inputs embedded together once the process has been idle ``idle_seconds``
    batch: int = 4
    #: how long the process must have had no request or job for a batch
    idle_seconds: float = 0.2
    #: how long it must have had none for one input
    brief_idle_seconds: float = 0.01
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
            if idle >= self.brief_idle_seconds:
                limit = self.batch if idle >= self.idle_seconds else 1
                if not await self._attempt(limit, queued_for=0.0):
                    await _sleep(stop, self.poll_seconds)
                continue
            now = time.monotonic()
            if now >= next_overdue_look:
                if await self._attempt(1, queued_for=self.overdue_seconds):
                    await _sleep(stop, (time.monotonic() - now) * (1 / self.busy_share - 1))
                    continue
                next_overdue_look = now + self.poll_seconds
            await self._until_idle(stop, self.brief_idle_seconds - idle, until=next_overdue_look)

    async def _until_idle(self, stop: asyncio.Event, seconds: float, *, until: float) -> None:
        """Until the process has had no request or job for ``seconds`` more (or, while one is in progress, until it
        ends), ``until`` (a monotonic time) at the latest."""
        timeout = max(0.0, until - time.monotonic())
        if self.activity.idle_for() == 0.0:
            quiet = asyncio.ensure_future(self.activity.quiet())
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((quiet, stopped), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                quiet.cancel()
                stopped.cancel()
            return
        await _sleep(stop, min(seconds, timeout))

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
