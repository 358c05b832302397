"""The worker (``Worker.run_until_idle``) on a real queue: claim, plan, write and finish, or record the failure."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from mnemo.domain.events import EventStatus
from mnemo.domain.memories import MemoryRecord, add_result
from mnemo.domain.selection import parse_selection
from mnemo.pipeline.commands import AddLimits
from mnemo.pipeline.extraction import (
    ExtractionFailed,
    ExtractionRequest,
    ExtractionResult,
    ExtractionUnavailable,
    Extractor,
    Fact,
)
from mnemo.pipeline.ingest import Ingestor
from mnemo.pipeline.offline_extractor import OfflineExtractor
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.runtime import build_worker, open_services
from mnemo.settings import Settings
from mnemo.storage import AccountStore, Database, Job, JobQueue, ProjectData, ReadOptions
from mnemo.worker.retry import RetryPolicy
from mnemo.worker.runner import Worker
from tests.pipeline.support import Choice, ScriptedExtractor
from tests.worker.support import add_body, enqueue, event

pytestmark = pytest.mark.anyio

#: A failed attempt runs again after 0.3 s: late enough that ``run_until_idle`` returns before it (the retry is
#: not runnable *now*), soon enough for a test to wait for it.
QUICK_RETRY = RetryPolicy(base_seconds=0.3, cap_seconds=0.3)
RETRY_DELAY = 0.35
TEA = [Fact("Alice likes green tea.", "user")]


def worker_for(
    db: Database, extractor: Extractor, batcher: EmbeddingBatcher, *, fallback: Extractor | None = None
) -> Worker:
    ingestor = Ingestor(batcher, Choice(extractor, fallback), limits=AddLimits())
    queue = JobQueue(db, "worker-test", lease=timedelta(seconds=60))
    return Worker(db, ingestor, queue, concurrency=2, poll_seconds=0.1, limits=AddLimits(), retry=QUICK_RETRY)


async def memories_of(data: ProjectData, user_id: str = "alice") -> list[MemoryRecord]:
    async with data.reading() as tables:
        _, records = await tables.memories.page(
            parse_selection({"user_id": user_id}), ReadOptions(show_expired=True), offset=0, limit=100
        )
    return records


async def test_a_queued_add_is_extracted_written_and_succeeds_with_its_results(
    db: Database, project: ProjectData, model_dir: Path, tmp_path: Path
) -> None:
    """Composed as ``mnemo serve`` composes it: the settings' offline extractor, the local model."""
    body = add_body("I live in Lisbon. My dog is called Biscuit.", name="Alice")
    event_id = await enqueue(project, body)
    settings = Settings(data_dir=tmp_path, model_dir=model_dir)
    async with open_services(settings, db) as services:
        worker = build_worker(services)
        await worker.run_until_idle()

    record = await event(project, event_id)
    written = await memories_of(project)
    assert (record.status, record.attempts, record.error) == (EventStatus.SUCCEEDED, 1, None)
    # The offline extractor's wording is its own business; one fact per statement is this test's.
    assert len(written) == 2
    assert {"Lisbon", "Biscuit"} == {word for m in written for word in ("Lisbon", "Biscuit") if word in m.memory}
    assert sorted(record.results, key=lambda r: r["id"]) == sorted(
        (add_result(m) for m in written), key=lambda r: r["id"]
    )
    assert record.metadata is not None
    assert (record.metadata["extractor"], record.metadata["memories_written"]) == ("offline-rules-v1", 2)
    assert worker.jobs_done == 1
    async with project.reading() as tables:
        history = await tables.history.of_memory(written[0].id)
    assert [(h.event, h.input) for h in history] == [
        ("ADD", [{"role": "user", "content": body["messages"][0]["content"]}])
    ]


async def test_a_payload_that_fails_validation_fails_at_once(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    extractor = ScriptedExtractor(TEA)
    no_messages = await enqueue(project, {"messages": [], "user_id": "alice"})
    no_scope = await enqueue(project, {"messages": "I like tea."})
    await worker_for(db, extractor, batcher).run_until_idle()
    for event_id in (no_messages, no_scope):
        record = await event(project, event_id)
        assert (record.status, record.attempts) == (EventStatus.FAILED, 1), "no retry changes bad input"
        assert record.error is not None and record.error.startswith("BadRequest: ")
    assert extractor.requests == []
    assert await memories_of(project) == []


async def test_an_unreachable_extractor_is_retried_then_falls_back_on_the_last_attempt(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    llm = ScriptedExtractor(ExtractionUnavailable("the LLM is down"), name="llm")
    event_id = await enqueue(project, add_body("I like green tea.", name="Alice"), max_attempts=2)
    worker = worker_for(db, llm, batcher, fallback=OfflineExtractor())

    await worker.run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts) == (EventStatus.PENDING, 1)
    assert record.error == "ExtractionUnavailable: the LLM is down"
    assert await memories_of(project) == []

    await asyncio.sleep(RETRY_DELAY)
    await worker.run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (EventStatus.SUCCEEDED, 2, None)
    assert record.metadata is not None
    assert record.metadata["extractor"] == "offline-rules-v1 (fallback: the LLM is down)"
    (fact,) = await memories_of(project)
    assert "green tea" in fact.memory and fact.attributed_to == "user"
    assert len(llm.requests) == 2


async def test_an_unreachable_extractor_without_a_fallback_fails_on_the_last_attempt(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    llm = ScriptedExtractor(ExtractionUnavailable("the LLM is down"), name="llm")
    event_id = await enqueue(project, add_body("I like green tea."), max_attempts=2)
    worker = worker_for(db, llm, batcher)
    await worker.run_until_idle()
    await asyncio.sleep(RETRY_DELAY)
    await worker.run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (
        EventStatus.FAILED,
        2,
        "ExtractionUnavailable: the LLM is down",
    )
    assert len(llm.requests) == 2
    assert await memories_of(project) == []


async def test_extraction_that_produced_nothing_trustworthy_fails_at_once_keeping_the_output(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    llm = ScriptedExtractor(ExtractionFailed("the output is not JSON", raw_output="{not json"))
    event_id = await enqueue(project, add_body("I like green tea."))
    await worker_for(db, llm, batcher).run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts) == (EventStatus.FAILED, 1)
    assert record.error == "ExtractionFailed: the output is not JSON"
    assert record.metadata == {"raw_output": "{not json"}


async def test_a_crashing_job_is_retried_and_keeps_its_error(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    extractor = ScriptedExtractor(RuntimeError("boom"), TEA)
    event_id = await enqueue(project, add_body("I like green tea."))
    worker = worker_for(db, extractor, batcher)
    await worker.run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (EventStatus.PENDING, 1, "RuntimeError: boom")
    await asyncio.sleep(RETRY_DELAY)
    await worker.run_until_idle()
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (EventStatus.SUCCEEDED, 2, None)
    assert [m.memory for m in await memories_of(project)] == ["Alice likes green tea."]


async def test_a_job_taken_over_by_another_worker_writes_nothing(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    """The lease lapses while the extraction runs (``run_until_idle`` does not heartbeat) and another worker
    claims the job: the first worker's result is dropped, so the job is finished once, by the second."""
    rescuer = JobQueue(db, "rescuer", lease=timedelta(seconds=60))
    taken: list[Job] = []

    async def slow(request: ExtractionRequest) -> ExtractionResult:
        await asyncio.sleep(0.1)
        taken.extend(await rescuer.claim(1))
        return ExtractionResult(facts=TEA)

    event_id = await enqueue(project, add_body("I like green tea."))
    ingestor = Ingestor(batcher, Choice(ScriptedExtractor(slow)), limits=AddLimits())
    queue = JobQueue(db, "slow", lease=timedelta(milliseconds=50))
    worker = Worker(db, ingestor, queue, concurrency=1, poll_seconds=0.1, limits=AddLimits(), retry=QUICK_RETRY)
    await worker.run_until_idle()

    assert [job.event_id for job in taken] == [event_id]
    record = await event(project, event_id)
    assert (record.status, record.attempts, record.error) == (EventStatus.RUNNING, 2, None), "the rescuer's now"
    assert await memories_of(project) == []
    assert worker.jobs_done == 0


async def test_run_until_idle_runs_every_project_s_jobs_each_in_its_own_project(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    other = ProjectData(db, await AccountStore(db).ensure_project("proj_other"))
    extractor = ScriptedExtractor(_echo)
    events = [
        (data, await enqueue(data, add_body(f"Note {n} of {data.project_id}.")))
        for n in range(3)
        for data in (project, other)
    ]
    worker = worker_for(db, extractor, batcher)
    await worker.run_until_idle()
    assert worker.jobs_done == 6
    for data, event_id in events:
        assert (await event(data, event_id)).status is EventStatus.SUCCEEDED
    for data in (project, other):
        assert sorted(m.memory for m in await memories_of(data)) == [
            f"Note {n} of {data.project_id}." for n in range(3)
        ]


async def _echo(request: ExtractionRequest) -> ExtractionResult:
    return ExtractionResult(facts=[Fact(message.content, "user") for message in request.messages])
