"""The job queue (``JobQueue`` and the claim steps of ``EventStore``): claims, leases, hand-backs, retries.

The queue claims across every project, so each test gets a fresh database of its own. Leases are short
(milliseconds), so a lapsed lease costs a tenth of a second of waiting, not a minute.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import psycopg
import pytest

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.projects import ProjectSettings
from mnemo.storage import Database, EventRecord, Job, JobQueue, LostClaim, ProjectData
from tests.storage.support import ALICE, LONG, SHORT, hears

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(fresh_db: Database) -> Database:
    """A fresh database per test (overrides the module-wide one): claims see every project's jobs."""
    return fresh_db


def queue(db: Database, worker: str, lease: timedelta = LONG) -> JobQueue:
    return JobQueue(db, worker, lease=lease)


async def enqueue(data: ProjectData, *, max_attempts: int = 5, n: int = 0) -> uuid.UUID:
    async with data.transaction() as tables:
        return await tables.events.create(
            event_type=EventType.ADD,
            status=EventStatus.PENDING,
            payload={"messages": f"message {n}", "user_id": "alice"},
            max_attempts=max_attempts,
            scope=ALICE,
        )


async def event(data: ProjectData, event_id: uuid.UUID) -> EventRecord:
    async with data.reading() as tables:
        record = await tables.events.get(event_id)
    assert record is not None
    return record


async def finish(data: ProjectData, job: Job, worker: JobQueue, results: list[object]) -> None:
    """What a worker does when an attempt succeeds: record the outcome if it still holds the claim."""
    async with data.transaction() as tables:
        await tables.events.succeed(job, worker.worker_id, results, {"by": worker.worker_id})


def backdate_claims(url: str, event_ids: list[uuid.UUID]) -> None:
    """Make claims look older than they are: ``extend`` leaves claims younger than two seconds alone, and
    no queue call can age one without sleeping that long."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE events SET updated_at = updated_at - interval '1 minute' WHERE id = ANY(%s)", (event_ids,))


# --- claim ------------------------------------------------------------------------------------------


async def test_claim_marks_the_job_running_and_counts_the_attempt(db: Database, project: ProjectData) -> None:
    event_id = await enqueue(project, max_attempts=3)
    worker = queue(db, "worker-a")
    (job,) = await worker.claim(10)
    assert (job.project_id, job.event_id, job.event_type) == (project.project_id, event_id, EventType.ADD)
    assert (job.payload, job.attempts, job.max_attempts) == ({"messages": "message 0", "user_id": "alice"}, 1, 3)
    record = await event(project, event_id)
    assert (record.status, record.attempts) == (EventStatus.RUNNING, 1)
    assert record.started_at is not None and record.completed_at is None
    assert await queue(db, "worker-b").claim(10) == [], "a leased job is nobody else's"
    assert await worker.claim(10) == [], "nor its own worker's twice"


async def test_claim_takes_at_most_limit_jobs_oldest_first_across_projects(
    db: Database, project: ProjectData, other_project: ProjectData
) -> None:
    first = await enqueue(project, n=1)
    second = await enqueue(other_project, n=2)
    third = await enqueue(project, n=3)
    worker = queue(db, "worker-a")
    assert [j.event_id for j in await worker.claim(2)] == [first, second]
    assert [(j.event_id, j.project_id) for j in await worker.claim(2)] == [(third, project.project_id)]
    assert await worker.claim(2) == []


async def test_a_claimed_job_carries_its_projects_settings_as_they_are_at_the_claim(
    db: Database, project: ProjectData, other_project: ProjectData
) -> None:
    async with project.transaction() as tables:
        await tables.project.update(
            name=None, description=None, settings=ProjectSettings(custom_instructions="Only food preferences.")
        )
    await enqueue(project, n=1)
    await enqueue(other_project, n=2)
    mine, theirs = await queue(db, "worker-a").claim(2)
    assert mine.settings is not None and mine.settings.custom_instructions == "Only food preferences."
    assert theirs.settings == ProjectSettings(), "another project's job carries that project's (default) settings"


async def test_concurrent_claims_never_hand_out_a_job_twice(db: Database, project: ProjectData) -> None:
    queued = {await enqueue(project, n=n) for n in range(24)}
    workers = [queue(db, f"worker-{n}") for n in range(4)]
    claimed: list[uuid.UUID] = []
    while True:
        rounds = await asyncio.gather(*(w.claim(3) for w in workers))
        jobs = [job.event_id for batch in rounds for job in batch]
        if not jobs:
            break
        claimed.extend(jobs)
    assert len(claimed) == len(set(claimed)) == len(queued)
    assert set(claimed) == queued


async def test_a_job_locked_by_its_finishing_transaction_is_skipped_not_waited_for(
    db: Database, project: ProjectData
) -> None:
    event_id = await enqueue(project)
    first = queue(db, "worker-a", lease=SHORT)
    (job,) = await first.claim(1)
    await asyncio.sleep(0.1)  # the lease has lapsed, but its worker is finishing the job right now
    async with project.transaction() as tables:
        await tables.events.succeed(job, first.worker_id, [{"id": "m1"}], {})
        # Without SKIP LOCKED this claim would wait for this very transaction: a deadlock, cut by the timeout.
        assert await asyncio.wait_for(queue(db, "worker-b").claim(1), 5) == []
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.results) == (EventStatus.SUCCEEDED, 1, [{"id": "m1"}])


# --- leases and lost claims -------------------------------------------------------------------------


async def test_a_lapsed_lease_makes_the_job_claimable_again_and_its_first_worker_loses_the_claim(
    db: Database, project: ProjectData
) -> None:
    event_id = await enqueue(project)
    slow, rescuer = queue(db, "slow", lease=SHORT), queue(db, "rescuer")
    (lost,) = await slow.claim(1)
    await asyncio.sleep(0.1)
    (taken,) = await rescuer.claim(1)
    assert (taken.event_id, taken.attempts) == (event_id, 2)

    with pytest.raises(LostClaim):
        await finish(project, lost, slow, [{"id": "from the slow worker"}])
    await slow.retry(lost, "too late", run_in=timedelta(0))
    await slow.fail(lost, "too late")
    await slow.release([lost])
    record = await event(project, event_id)
    assert (record.status, record.error) == (EventStatus.RUNNING, None), "the first worker changes nothing any more"

    await finish(project, taken, rescuer, [{"id": "from the rescuer"}])
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.results) == (EventStatus.SUCCEEDED, 2, [{"id": "from the rescuer"}])
    assert record.metadata == {"by": "rescuer"}


async def test_extend_keeps_running_jobs_leased(db: Database, project: ProjectData) -> None:
    await enqueue(project)
    lease = timedelta(milliseconds=400)
    worker, other = queue(db, "worker-a", lease=lease), queue(db, "worker-b")
    (job,) = await worker.claim(1)
    await asyncio.sleep(0.25)
    assert await worker.extend([job]) == 0
    await asyncio.sleep(0.2)  # past the first lease, well within the extended one
    assert await other.claim(1) == []
    await asyncio.sleep(0.45)  # no more heartbeats: the lease lapses
    assert [j.event_id for j in await other.claim(1)] == [job.event_id]


async def test_extend_hands_back_a_job_its_worker_holds_but_no_longer_runs(
    db: Database, project: ProjectData, migrated_database_url: str
) -> None:
    stray = await enqueue(project, n=1)
    spent = await enqueue(project, max_attempts=1, n=2)
    running = await enqueue(project, n=3)
    worker = queue(db, "worker-a")
    jobs = {job.event_id: job for job in await worker.claim(3)}
    assert await worker.extend([jobs[running]]) == 0, "a claim younger than the heartbeat is no stray"

    backdate_claims(migrated_database_url, [stray, spent, running])
    assert await worker.extend([jobs[running]]) == 2
    assert (await event(project, stray)).status is EventStatus.PENDING
    failed = await event(project, spent)
    assert failed.status is EventStatus.FAILED
    assert failed.error is not None and "no attempts are left" in failed.error
    assert (await event(project, running)).status is EventStatus.RUNNING
    (again,) = await queue(db, "worker-b").claim(5)
    assert (again.event_id, again.attempts) == (stray, 2), "handed back to run now, its attempt counted"


# --- release, retry, fail ---------------------------------------------------------------------------


async def test_release_hands_jobs_back_without_counting_the_attempt(db: Database, project: ProjectData) -> None:
    event_id = await enqueue(project)
    worker, other = queue(db, "worker-a"), queue(db, "worker-b")
    (job,) = await worker.claim(1)
    await other.release([job])
    assert (await event(project, event_id)).status is EventStatus.RUNNING, "only the holder releases a job"
    await worker.release([])
    await worker.release([job])
    record = await event(project, event_id)
    assert (record.status, record.attempts) == (EventStatus.PENDING, 0)
    (again,) = await other.claim(1)
    assert (again.event_id, again.attempts) == (event_id, 1)


async def test_retry_puts_the_job_back_to_run_later_with_its_error(db: Database, project: ProjectData) -> None:
    event_id = await enqueue(project)
    worker = queue(db, "worker-a")
    (job,) = await worker.claim(1)
    await worker.retry(job, "ExtractionUnavailable: the LLM is down", run_in=timedelta(milliseconds=400))
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (
        EventStatus.PENDING,
        1,
        "ExtractionUnavailable: the LLM is down",
    )
    assert await worker.claim(1) == [], "not before its time"
    with pytest.raises(LostClaim):
        await finish(project, job, worker, [])
    await asyncio.sleep(0.45)
    (again,) = await worker.claim(1)
    assert (again.event_id, again.attempts) == (event_id, 2)


async def test_fail_ends_the_job_with_its_cause(db: Database, project: ProjectData) -> None:
    event_id = await enqueue(project)
    worker = queue(db, "worker-a")
    (job,) = await worker.claim(1)
    await worker.fail(job, "ExtractionFailed: not JSON", metadata={"raw_output": "{oops"})
    record = await event(project, event_id)
    assert (record.status, record.error, record.metadata) == (
        EventStatus.FAILED,
        "ExtractionFailed: not JSON",
        {"raw_output": "{oops"},
    )
    assert record.completed_at is not None
    assert await worker.claim(1) == []


# --- attempts ---------------------------------------------------------------------------------------


async def test_a_job_whose_lease_lapsed_with_attempts_left_runs_again(db: Database, project: ProjectData) -> None:
    event_id = await enqueue(project, max_attempts=2)
    (_,) = await queue(db, "crashed", lease=SHORT).claim(1)
    await asyncio.sleep(0.1)
    (again,) = await queue(db, "worker-b").claim(1)
    assert (again.event_id, again.attempts, again.max_attempts) == (event_id, 2, 2)


async def test_a_job_whose_attempts_are_spent_is_not_claimed_again_but_ends_failed(
    db: Database, project: ProjectData
) -> None:
    """Attempts are counted at claim, so a job that kills its worker every time ends FAILED with its cause."""
    event_id = await enqueue(project, max_attempts=1)
    (_,) = await queue(db, "crashed", lease=SHORT).claim(1)
    await asyncio.sleep(0.1)
    assert await queue(db, "worker-b").claim(1) == []
    record = await event(project, event_id)
    assert (record.status, record.attempts) == (EventStatus.FAILED, 1)
    assert record.error is not None and "attempt 1 of 1" in record.error and "no attempts are left" in record.error
    assert record.completed_at is not None


async def test_release_orphans_hands_back_the_jobs_of_dead_workers_only(db: Database, project: ProjectData) -> None:
    dead, alive, me = queue(db, "host:1"), queue(db, "host:2"), queue(db, "host:3")
    orphan = await enqueue(project, n=1)
    assert [j.event_id for j in await dead.claim(1)] == [orphan]
    last_try = await enqueue(project, max_attempts=1, n=2)
    assert [j.event_id for j in await dead.claim(1)] == [last_try]
    living = await enqueue(project, n=3)
    assert [j.event_id for j in await alive.claim(1)] == [living]
    mine = await enqueue(project, n=4)
    assert [j.event_id for j in await me.claim(1)] == [mine]

    asked: list[str] = []

    def is_alive(worker: str) -> bool:
        asked.append(worker)
        return worker != "host:1"

    assert await me.release_orphans(is_alive) == 2
    assert sorted(set(asked)) == ["host:1", "host:2"], "its own jobs are never in question"
    released = await event(project, orphan)
    assert (released.status, released.attempts) == (EventStatus.PENDING, 1)
    failed = await event(project, last_try)
    assert failed.status is EventStatus.FAILED and failed.error is not None and "no attempts are left" in failed.error
    assert (await event(project, living)).status is EventStatus.RUNNING
    assert (await event(project, mine)).status is EventStatus.RUNNING
    assert await me.release_orphans(lambda worker: True) == 0
    (again,) = await me.claim(5)
    assert (again.event_id, again.attempts) == (orphan, 2)


async def test_retry_failed_requeues_only_a_failed_job(db: Database, project: ProjectData) -> None:
    worker = queue(db, "worker-a")
    assert await worker.retry_failed(uuid.uuid4()) is None
    event_id = await enqueue(project, max_attempts=1)
    assert (await worker.retry_failed(event_id)).status is EventStatus.PENDING  # its status: queued, left alone
    (job,) = await worker.claim(1)
    assert (await worker.retry_failed(event_id, project_id=project.project_id)).status is EventStatus.RUNNING
    await worker.fail(job, "ExtractionFailed: not JSON")
    assert (await worker.retry_failed(event_id, project_id=project.project_id)).status is EventStatus.PENDING
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error, record.completed_at) == (EventStatus.PENDING, 0, None, None)
    (again,) = await worker.claim(1)
    assert (again.event_id, again.attempts) == (event_id, 1), "a retried job gets its attempts afresh"
    await finish(project, again, worker, [])
    assert (await worker.retry_failed(event_id)).status is EventStatus.SUCCEEDED


# --- notifications ----------------------------------------------------------------------------------


async def test_a_queued_job_wakes_the_listeners(db: Database, project: ProjectData) -> None:
    assert await hears(queue(db, "worker-a").notifications(), lambda _: enqueue(project))
