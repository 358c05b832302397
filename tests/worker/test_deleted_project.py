"""A project deleted (DELETE .../projects/{id}/) while a worker extracts one of its adds: the attempt ends
without writing anything or crashing the worker, and other projects' jobs go on."""

from __future__ import annotations

import pytest

from mnemo.domain.events import EventStatus
from mnemo.errors import NotFound
from mnemo.pipeline.extraction import ExtractionRequest, ExtractionResult, Fact
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import AccountStore, Database, ProjectData
from tests.pipeline.support import ScriptedExtractor
from tests.worker.support import add_body, enqueue, event
from tests.worker.test_runner import worker_for

pytestmark = pytest.mark.anyio


async def test_a_job_of_a_project_deleted_mid_extraction_ends_quietly(
    db: Database, project: ProjectData, batcher: EmbeddingBatcher
) -> None:
    doomed = ProjectData(db, await AccountStore(db).ensure_project("proj_doomed"))

    async def delete_then_extract(request: ExtractionRequest) -> ExtractionResult:
        if request.messages[0].content.startswith("Doomed"):
            async with doomed.transaction() as tables:
                await tables.project.delete()
        return ExtractionResult(facts=[Fact(message.content, "user") for message in request.messages])

    await enqueue(doomed, add_body("Doomed: I like tea."))
    kept = await enqueue(project, add_body("Kept: I like coffee."))
    worker = worker_for(db, ScriptedExtractor(delete_then_extract), batcher)
    await worker.run_until_idle()

    assert worker.jobs_done == 1
    assert (await event(project, kept)).status is EventStatus.SUCCEEDED
    with pytest.raises(NotFound, match="proj_doomed no longer exists"):
        await doomed.settings()
    async with db.connection() as conn:
        row = await (
            await conn.execute("SELECT count(*) AS n FROM memories WHERE project_id = 'proj_doomed'")
        ).fetchone()
    assert row is not None and row["n"] == 0
