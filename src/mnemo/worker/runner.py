"""The worker loop: wake on NOTIFY (or a poll tick), claim jobs, run them, heartbeat their leases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from datetime import timedelta

import psycopg

from mnemo.errors import MnemoError
from mnemo.pipeline.commands import AddLimits, parse_add
from mnemo.pipeline.extraction import ExtractionFailed, ExtractionUnavailable
from mnemo.pipeline.ingest import Ingestor
from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.storage.database import Database
from mnemo.storage.project_store import ProjectStore
from mnemo.storage.queue import NOTIFY_CHANNEL, Job, JobQueue, LostClaim

logger = logging.getLogger(__name__)

#: How much of a model's malformed output an event keeps for inspection.
_RAW_OUTPUT_LIMIT = 4096


def worker_id() -> str:
    """``host:pid``: lets a worker on the same host tell whether another worker process still exists."""
    return f"{socket.gethostname()}:{os.getpid()}"


def local_worker_alive(other: str) -> bool:
    """False only for a worker of this host whose process is gone; workers elsewhere count as alive."""
    host, _, pid = other.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: up to 2**attempt seconds, capped at five minutes."""
    return timedelta(seconds=random.uniform(0.5, min(300.0, 2.0**attempt)))


class Worker:
    def __init__(
        self,
        db: Database,
        ingestor: Ingestor,
        queue: JobQueue,
        *,
        concurrency: int,
        poll_seconds: float,
        limits: AddLimits,
    ) -> None:
        self.db = db
        self.ingestor = ingestor
        self.queue = queue
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.limits = limits
        self._running: dict[asyncio.Task[None], Job] = {}
        self._wakeup = asyncio.Event()
        self.jobs_done = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Process jobs until ``stop`` is set; then finish (or hand back) what is running."""
        released = await self.queue.release_orphans(local_worker_alive)
        if released:
            logger.info("handed back %d job(s) of worker processes that died on this host", released)
        listener = asyncio.create_task(self._listen(stop), name="mnemo-worker-listen")
        heartbeat = asyncio.create_task(self._heartbeat(stop), name="mnemo-worker-heartbeat")
        try:
            while not stop.is_set():
                await self._fill()
                await self._wait(stop)
        finally:
            await self._drain()
            for task in (listener, heartbeat):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def run_until_idle(self) -> None:
        """Drain the queue and return (for tests and one-shot runs)."""
        while True:
            await self._fill()
            if not self._running:
                return
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)

    async def _fill(self) -> None:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return
        try:
            jobs = await self.queue.claim(free)
        except psycopg.Error:
            logger.exception("claiming jobs failed; will retry")
            return
        for job in jobs:
            task = asyncio.create_task(self._process(job), name=f"mnemo-job-{job.event_id}")
            self._running[task] = job
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wakeup.set()

    async def _wait(self, stop: asyncio.Event) -> None:
        self._wakeup.clear()
        stopping = asyncio.create_task(stop.wait())
        woken = asyncio.create_task(self._wakeup.wait())
        try:
            await asyncio.wait({stopping, woken}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            woken.cancel()

    async def _drain(self) -> None:
        if not self._running:
            return
        logger.info("waiting for %d running job(s) to finish", len(self._running))
        _done, pending = await asyncio.wait(self._running, timeout=30)
        if pending:
            jobs = [self._running[t] for t in pending]
            for task in pending:
                task.cancel()
            await self.queue.release(jobs)

    async def _process(self, job: Job) -> None:
        store = ProjectStore(self.db, job.project_id)
        try:
            command = parse_add(job.payload, self.limits)
            outcome = await self.ingestor.run_job(store, self.queue, job, command)
        except LostClaim:
            logger.warning("job %s was taken over by another worker; dropping this attempt", job.event_id)
            return
        except ExtractionFailed as exc:
            logger.warning("job %s failed for good: %s", job.event_id, exc)
            details = {"raw_output": exc.raw_output[:_RAW_OUTPUT_LIMIT]} if exc.raw_output else None
            await self.queue.fail(job, f"ExtractionFailed: {exc}", retry_in=None, metadata=details)
            return
        except MnemoError as exc:
            logger.warning("job %s failed for good: %s", job.event_id, exc)
            await self.queue.fail(job, f"{type(exc).__name__}: {exc.detail}", retry_in=None)
            return
        except (ExtractionUnavailable, EmbedderUnavailable, psycopg.Error, OSError) as exc:
            logger.warning("job %s attempt %d failed, will retry: %s", job.event_id, job.attempts, exc)
            await self._fail_safely(job, f"{type(exc).__name__}: {exc}", retry_delay(job.attempts))
            return
        except Exception as exc:
            logger.exception("job %s crashed", job.event_id)
            await self._fail_safely(job, f"{type(exc).__name__}: {exc}", retry_delay(job.attempts))
            return
        self.jobs_done += 1
        logger.debug("job %s wrote %d memories", job.event_id, len(outcome.written))

    async def _fail_safely(self, job: Job, error: str, retry_in: timedelta) -> None:
        try:
            await self.queue.fail(job, error, retry_in=retry_in)
        except psycopg.Error:
            logger.exception("could not record the failure of job %s; its lease will expire", job.event_id)

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.db.conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in conn.notifies():
                        self._wakeup.set()
            except psycopg.Error:
                logger.warning("lost the notification connection; polling until it is back")
                await asyncio.sleep(self.poll_seconds)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = max(self.queue.lease.total_seconds() / 3, 0.5)
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                strays = await self.queue.extend(list(self._running.values()))
            except psycopg.Error:
                logger.warning("heartbeat failed; leases may lapse")
                continue
            if strays:
                logger.info("handed back %d job(s) whose attempt ended while the database was away", strays)
