"""The worker loop: wake on NOTIFY (or a poll tick), claim jobs, run them, heartbeat their leases.

The worker owns a job's life: it claims it, asks the ingestor what the add should write (reads, the
extraction and the embeddings happen outside any transaction), writes that and marks the job
SUCCEEDED in one transaction that first checks the claim is still held, and on failure records
what :mod:`mnemo.worker.retry` decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import timedelta

from mnemo.activity import Activity
from mnemo.errors import MnemoError
from mnemo.observability import WorkContext, bound, metrics
from mnemo.pipeline.commands import AddLimits, parse_add
from mnemo.pipeline.ingest import Ingestor
from mnemo.storage import Database, Job, JobQueue, LostClaim, ProjectData
from mnemo.worker.final_vectors import FinalVectors
from mnemo.worker.retry import GiveUp, RetryPolicy
from mnemo.worker.wakeup import InFlight, relay, sleep_until
from mnemo.worker.webhooks import Deliverer

logger = logging.getLogger(__name__)

_PURGE_EVERY_SECONDS = 600.0


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
        retry: RetryPolicy | None = None,
        payload_retention: timedelta | None = None,
        deliverer: Deliverer | None = None,
        activity: Activity | None = None,
        final_vectors: FinalVectors | None = None,
    ) -> None:
        self.db = db
        self.ingestor = ingestor
        self.queue = queue
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.limits = limits
        self.retry = retry or RetryPolicy()
        #: Events finished longer ago than this lose their payloads (None: kept).
        self.payload_retention = payload_retention
        #: Delivers webhooks beside the jobs (None: this worker does not).
        self.deliverer = deliverer
        #: The process's work in progress, which counts the jobs too.
        self.activity = activity or Activity()
        #: Computes queued final vectors when the process is idle (None: this worker does not).
        self.final_vectors = final_vectors
        self._next_purge = 0.0
        self._wakeup = asyncio.Event()
        self._running = InFlight[Job](self._wakeup)
        self.jobs_done = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Process jobs until ``stop`` is set; then finish (or hand back) what is running."""
        released = await self.queue.release_orphans(local_worker_alive)
        if released:
            logger.info("handed back %d job(s) of worker processes that died on this host", released)
        await self.queue.register()
        listener = asyncio.create_task(self._listen(stop), name="mnemo-worker-listen")
        heartbeat = asyncio.create_task(self._heartbeat(stop), name="mnemo-worker-heartbeat")
        deliveries = asyncio.create_task(self.deliverer.run(stop), name="mnemo-webhooks") if self.deliverer else None
        vectors = (
            asyncio.create_task(self.final_vectors.run(stop), name="mnemo-final-vectors")
            if self.final_vectors
            else None
        )
        try:
            while not stop.is_set():
                await self._fill()
                await self._wait(stop)
        finally:
            await self._drain()
            if deliveries is not None:
                if not stop.is_set():
                    deliveries.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await deliveries
            for task in (listener, heartbeat, vectors):
                if task is None:
                    continue
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(MnemoError):
                await self.queue.unregister()

    async def run_until_idle(self) -> None:
        """Run every job that is runnable now (and those they make runnable), then return."""
        while True:
            await self._fill()
            if not self._running:
                return
            await self._running.any_ends()

    async def _fill(self) -> None:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return
        try:
            jobs = await self.queue.claim(free)
        except MnemoError as exc:
            logger.warning("claiming jobs failed; will retry: %s", exc.detail)
            return
        for job in jobs:
            self._running.start(self._process(job), job, name=f"mnemo-job-{job.event_id}")

    async def _wait(self, stop: asyncio.Event) -> None:
        self._wakeup.clear()
        await sleep_until(stop, self._wakeup, self.poll_seconds)

    async def _drain(self) -> None:
        if not self._running:
            return
        logger.info("waiting for %d running job(s) to finish", len(self._running))
        unfinished = await self._running.cancel_after(30)
        if unfinished:
            await self.queue.release(unfinished)

    async def _process(self, job: Job) -> None:
        with bound(WorkContext(project=job.project_id, event_id=str(job.event_id))), self.activity.working():
            await self._attempt(job)

    async def _attempt(self, job: Job) -> None:
        started = time.perf_counter()
        data = ProjectData(self.db, job.project_id)
        try:
            command = parse_add(job.payload, self.limits)
            plan = await self.ingestor.plan_job(
                data,
                command,
                event_id=job.event_id,
                last_attempt=self.retry.is_last_attempt(job),
                project=job.settings,
            )
            async with data.transaction() as tables:
                outcome = await self.ingestor.write_job(tables, plan)
                await tables.events.succeed(job, self.queue.worker_id, outcome.results, outcome.metadata)
        except LostClaim:
            logger.warning("job %s was taken over by another worker; dropping this attempt", job.event_id)
            return
        except Exception as exc:
            await self._record_failure(job, exc, started)
            return
        metrics.job_finished("succeeded", time.perf_counter() - started)
        self.jobs_done += 1
        logger.debug("job %s wrote %d memories", job.event_id, len(outcome.written))

    async def _record_failure(self, job: Job, exc: Exception, started: float) -> None:
        decision = self.retry.decide(job, exc)
        if not isinstance(exc, MnemoError | OSError):
            logger.error("job %s crashed", job.event_id, exc_info=exc)
        try:
            if isinstance(decision, GiveUp):
                logger.warning("job %s failed for good: %s", job.event_id, decision.error)
                await self.queue.fail(job, decision.error, metadata=decision.metadata)
                metrics.job_finished("failed", time.perf_counter() - started)
            else:
                logger.warning("job %s attempt %d failed, will retry: %s", job.event_id, job.attempts, decision.error)
                await self.queue.retry(job, decision.error, run_in=decision.delay)
                metrics.job_finished("retried", time.perf_counter() - started)
        except MnemoError:
            logger.exception("could not record the failure of job %s; its lease will expire", job.event_id)

    async def _listen(self, stop: asyncio.Event) -> None:
        await relay(self.queue.notifications, self._wakeup, stop, self.poll_seconds)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        interval = max(self.queue.lease.total_seconds() / 3, 0.5)
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                strays = await self.queue.extend(self._running.items())
            except MnemoError:
                logger.warning("heartbeat failed; leases may lapse")
                continue
            if strays:
                logger.info("handed back %d job(s) whose attempt ended while the database was away", strays)
            await self._purge_payloads()

    async def _purge_payloads(self) -> None:
        """Retention, at most once every ten minutes per worker."""
        now = time.monotonic()
        if self.payload_retention is None or now < self._next_purge:
            return
        self._next_purge = now + _PURGE_EVERY_SECONDS
        try:
            purged = await self.queue.purge_payloads(self.payload_retention)
        except MnemoError as exc:
            logger.warning("purging old event payloads failed; will retry: %s", exc.detail)
            return
        if purged:
            logger.info("forgot the payloads of %d event(s) past the retention period", purged)
