"""The smaller repositories: events, idempotency keys, exports, the project's own row."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import Scope
from mnemo.storage import ProjectData
from tests.storage.support import ALICE, BOB, select

pytestmark = pytest.mark.anyio


def add_payload(text: str, **scope: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], **scope}


# --- events -----------------------------------------------------------------------------------------


async def test_an_event_reads_back_as_it_was_created(project: ProjectData) -> None:
    chosen = uuid.uuid4()
    async with project.transaction() as tables:
        queued = await tables.events.create(
            event_type=EventType.ADD,
            status=EventStatus.PENDING,
            payload=add_payload("Hi.", user_id="alice"),
            max_attempts=3,
            scope=ALICE,
        )
        done = await tables.events.create(
            event_type=EventType.DELETE,
            status=EventStatus.SUCCEEDED,
            payload={"memory_ids": ["x"]},
            results=[{"id": "x", "event": "DELETE"}],
            event_id=chosen,
        )
    async with project.reading() as tables:
        pending = await tables.events.get(queued)
        finished = await tables.events.get(done)
        missing = await tables.events.get(uuid.uuid4())
    assert done == chosen
    assert missing is None
    assert pending is not None and finished is not None
    assert (pending.event_type, pending.status, pending.payload) == (
        EventType.ADD,
        EventStatus.PENDING,
        add_payload("Hi.", user_id="alice"),
    )
    assert (pending.results, pending.error, pending.metadata, pending.attempts) == ([], None, None, 0)
    assert (pending.started_at, pending.completed_at) == (None, None)
    assert (finished.event_type, finished.status, finished.results) == (
        EventType.DELETE,
        EventStatus.SUCCEEDED,
        [{"id": "x", "event": "DELETE"}],
    )
    assert finished.started_at is not None and finished.completed_at is not None, "a finished event is dated"


async def test_events_page_newest_first_with_their_total(project: ProjectData) -> None:
    async with project.transaction() as tables:
        ids = [
            await tables.events.create(event_type=EventType.ADD, status=EventStatus.SUCCEEDED, payload={"n": n})
            for n in range(3)
        ]
    async with project.reading() as tables:
        total, first = await tables.events.page(offset=0, limit=2)
        again, rest = await tables.events.page(offset=2, limit=2)
    assert total == again == 3
    assert [e.id for e in first + rest] == ids[::-1]


async def test_recent_adds_are_the_scopes_latest_adds_before_an_event(project: ProjectData) -> None:
    async with project.transaction() as tables:

        async def add(text: str, scope: Scope, event_type: EventType = EventType.ADD) -> uuid.UUID:
            payload = add_payload(text, **{k: v for k, v in scope.as_dict().items() if v})
            return await tables.events.create(
                event_type=event_type, status=EventStatus.SUCCEEDED, payload=payload, scope=scope
            )

        one = await add("one", ALICE)
        await add("bob's", BOB)
        two = await add("two", ALICE)
        await add("with the helper", Scope(user_id="alice", agent_id="helper"))
        await add("a delete", ALICE, EventType.DELETE)
        third = await add("three", ALICE)
        await add("four", ALICE)

    def texts(adds: list[tuple[uuid.UUID, dict[str, list[dict[str, str]]]]]) -> list[str]:
        return [p["messages"][0]["content"] for _, p in adds]

    async with project.reading() as tables:
        everything = await tables.events.recent_adds(ALICE, None, limit=10)
        before_third = await tables.events.recent_adds(ALICE, third, limit=10)
        latest = await tables.events.recent_adds(ALICE, None, limit=1)
        helper = await tables.events.recent_adds(Scope(user_id="alice", agent_id="helper"), None, limit=10)
    assert texts(everything) == ["four", "three", "two", "one"], "exactly this scope's adds, newest first"
    assert texts(before_third) == ["two", "one"]
    assert [event for event, _ in before_third] == [two, one], "each with the id of its event"
    assert texts(latest) == ["four"]
    assert texts(helper) == ["with the helper"]


# --- idempotency ------------------------------------------------------------------------------------


async def test_an_idempotency_key_is_reserved_once_then_replays_the_stored_response(project: ProjectData) -> None:
    async with project.transaction() as tables:
        assert await tables.idempotency.claim("k1", "add", "hash-1") is None
        await tables.idempotency.store_response("k1", {"event_id": "e1"})
    async with project.transaction() as tables:
        assert await tables.idempotency.claim("k1", "add", "hash-2") == ("hash-1", {"event_id": "e1"})
        assert await tables.idempotency.claim("k2", "add", "hash-2") is None


async def test_a_concurrent_request_with_the_same_key_waits_for_the_first_to_commit(project: ProjectData) -> None:
    async def second_request() -> tuple[str, dict[str, object]] | None:
        async with project.transaction() as tables:
            return await tables.idempotency.claim("k", "add", "hash")

    async with project.transaction() as first:
        assert await first.idempotency.claim("k", "add", "hash") is None
        second = asyncio.create_task(second_request())
        await asyncio.sleep(0.2)
        assert not second.done(), "the second request must wait on the first one's row"
        await first.idempotency.store_response("k", {"event_id": "e1"})
    assert await asyncio.wait_for(second, 5) == ("hash", {"event_id": "e1"})


async def test_a_key_whose_first_request_rolled_back_is_free_again(project: ProjectData) -> None:
    async def second_request() -> tuple[str, dict[str, object]] | None:
        async with project.transaction() as tables:
            return await tables.idempotency.claim("k", "add", "hash-2")

    second: asyncio.Task[tuple[str, dict[str, object]] | None] | None = None
    with pytest.raises(RuntimeError):
        async with project.transaction() as first:
            assert await first.idempotency.claim("k", "add", "hash-1") is None
            second = asyncio.create_task(second_request())
            await asyncio.sleep(0.1)
            raise RuntimeError("the first request failed")
    assert second is not None
    assert await asyncio.wait_for(second, 5) is None, "the second request reserves the key itself"


# --- exports ----------------------------------------------------------------------------------------


async def test_the_latest_export_is_found_by_id_and_by_its_pinned_entity_ids(project: ProjectData) -> None:
    async with project.transaction() as tables:

        async def export(scope: Scope, n: int) -> uuid.UUID:
            return await tables.exports.insert(
                scope=scope,
                schema={"type": "object"},
                filters={k: v for k, v in scope.as_dict().items() if v},
                export_instructions="be brief",
                memory_ids=[],
                result={"n": n},
            )

        first = await export(ALICE, 1)
        second = await export(ALICE, 2)
        bobs = await export(BOB, 3)
    async with project.reading() as tables:
        by_first_id = await tables.exports.latest(first, None)
        alices = await tables.exports.latest(None, select({"user_id": "alice"}))
        bob = await tables.exports.latest(None, select({"user_id": "bob"}))
        mismatch = await tables.exports.latest(first, select({"user_id": "bob"}))
        unknown = await tables.exports.latest(uuid.uuid4(), None)
        nobody = await tables.exports.latest(None, select({"user_id": "carol"}))
    assert by_first_id is not None and (by_first_id.id, by_first_id.result) == (first, {"n": 1})
    assert alices is not None and (alices.id, alices.result) == (second, {"n": 2}), "the newest of alice's"
    assert bob is not None and bob.id == bobs
    assert mismatch is None and unknown is None and nobody is None
