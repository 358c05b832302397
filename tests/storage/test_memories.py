"""The memory repository: insert (exact dedup), get, page, update, supersede, delete, chains."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest

from mnemo.domain.events import EventStatus, EventType
from mnemo.domain.memories import MemoryRecord, Scope, add_result, index_fields, text_hash
from mnemo.errors import ValueRejected
from mnemo.storage import MemoryPatch, ProjectData, ReadOptions
from mnemo.storage.tenant import ROWS_PER_INSERT
from tests.storage.support import ALICE, BOB, T0, axis, insert, memory, minutes, select

pytestmark = pytest.mark.anyio

ALICE_ONLY = {"user_id": "alice"}


async def current(data: ProjectData, memory_id: uuid.UUID) -> MemoryRecord | None:
    async with data.reading() as tables:
        return await tables.memories.get(memory_id)


async def stored(data: ProjectData, memory_id: uuid.UUID) -> MemoryRecord:
    record = await current(data, memory_id)
    assert record is not None
    return record


async def page_texts(data: ProjectData, raw: dict[str, Any], options: ReadOptions | None = None) -> list[str]:
    async with data.reading() as tables:
        total, records = await tables.memories.page(select(raw), options or ReadOptions(), offset=0, limit=100)
    assert total == len(records)
    return [r.memory for r in records]


# --- insert and get ---------------------------------------------------------------------------------


async def test_insert_returns_the_written_memories_in_input_order_and_records_each_add(project: ProjectData) -> None:
    messages = [{"role": "user", "content": "I moved to Lisbon. I have a dog."}]
    event_id = uuid.uuid4()
    helper = Scope(user_id="alice", agent_id="helper")
    async with project.transaction() as tables:
        written = await tables.memories.insert(
            [
                memory("Alice moved to Lisbon.", speaker="Alice", metadata={"source": "chat"}, categories=["travel"]),
                memory(
                    "Alice has a dog.", scope=helper, role="assistant", immutable=True, expiration_date=date(2999, 1, 1)
                ),
            ],
            event_id=event_id,
            input_messages=messages,
        )

    first, second = written
    assert [r.memory for r in written] == ["Alice moved to Lisbon.", "Alice has a dog."]
    assert (first.scope, first.hash, first.metadata, first.categories) == (
        ALICE,
        text_hash("Alice moved to Lisbon."),
        {"source": "chat"},
        ["travel"],
    )
    assert (first.attributed_to, first.actor_name, first.immutable, first.expiration_date) == (
        "user",
        "Alice",
        False,
        None,
    )
    assert (first.state, first.replaced_by, first.created_at, first.updated_at) == ("active", None, T0, T0)
    assert (second.scope, second.attributed_to, second.actor_name) == (helper, "assistant", None)
    assert (second.immutable, second.expiration_date) == (True, date(2999, 1, 1))

    async with project.reading() as tables:
        assert await tables.memories.get(first.id) == first
        assert await tables.memories.get(second.id) == second
        history = await tables.history.of_memory(first.id)
    (entry,) = history
    assert (entry.event, entry.old_memory, entry.new_memory, entry.input) == ("ADD", None, first.memory, messages)
    assert (entry.scope, entry.categories, entry.metadata) == (ALICE, ["travel"], {"source": "chat"})


async def test_an_insert_larger_than_one_statement_writes_every_row_in_order_and_skips_duplicates_across_parts(
    project: ProjectData,
) -> None:
    texts = [f"Alice noted item {n}." for n in range(ROWS_PER_INSERT + 5)]
    texts.insert(ROWS_PER_INSERT + 2, texts[3])  # in the second statement, a duplicate of a row of the first
    async with project.transaction() as tables:
        written = await tables.memories.insert([memory(t) for t in texts], event_id=None, input_messages=None)
    assert [r.memory for r in written] == [t for n, t in enumerate(texts) if n != ROWS_PER_INSERT + 2]
    async with project.reading() as tables:
        last = await tables.history.of_memory(written[-1].id)
    assert [h.new_memory for h in last] == [texts[-1]]


async def add(data: ProjectData, texts: list[str], payload: dict[str, Any]) -> tuple[uuid.UUID, list[MemoryRecord]]:
    """A verbatim add written as the add route writes one without an idempotency key: one statement, no transaction."""
    event_id = uuid.uuid4()
    async with data.one_statement() as tables:
        written = await tables.memories.insert_add(
            [memory(t) for t in texts], event_id=event_id, input_messages=[], payload=payload, scope=ALICE
        )
    return event_id, written


async def event_results(data: ProjectData, event_id: uuid.UUID) -> list[Any] | None:
    async with data.reading() as tables:
        event = await tables.events.get(event_id)
    assert event is not None
    assert (event.event_type, event.status) == (EventType.ADD, EventStatus.SUCCEEDED)
    assert event.completed_at is not None
    return event.results


async def test_a_verbatim_add_records_its_event_with_the_results_of_the_memories_it_inserted(
    project: ProjectData,
) -> None:
    payload = {"messages": [{"role": "user", "content": "Alice likes tea."}], "user_id": "alice"}
    first_id, first = await add(project, ["Alice likes tea."], payload)
    assert await event_results(project, first_id) == [add_result(first[0])]

    second_id, second = await add(project, ["Alice likes coffee.", "Alice likes tea.", "Alice likes cocoa."], payload)
    assert [r.memory for r in second] == ["Alice likes coffee.", "Alice likes cocoa."]
    assert await event_results(project, second_id) == [add_result(r) for r in second], "the duplicate is left out"

    none_id, none = await add(project, ["Alice likes tea."], payload)
    assert none == []
    assert await event_results(project, none_id) == []


async def test_a_verbatim_add_larger_than_one_statement_or_empty_still_records_its_event(project: ProjectData) -> None:
    texts = [f"Alice packed item {n}." for n in range(ROWS_PER_INSERT + 3)]
    large_id, large = await add(project, texts, {"messages": []})
    assert [r.memory for r in large] == texts
    assert await event_results(project, large_id) == [add_result(r) for r in large]

    empty_id, empty = await add(project, [], {"messages": []})
    assert empty == []
    assert await event_results(project, empty_id) == []


async def test_a_verbatim_add_that_fails_writes_neither_its_memories_nor_its_event(project: ProjectData) -> None:
    # PostgreSQL refuses the event's payload (jsonb holds no NUL) once the statement has inserted the memories.
    with pytest.raises(ValueRejected):
        await add(project, ["Alice likes tea."], {"messages": [], "note": "a NUL \x00 byte"})
    assert await page_texts(project, ALICE_ONLY) == []
    async with project.reading() as tables:
        assert (await tables.events.page(offset=0, limit=10))[0] == 0


async def test_get_of_an_unknown_id_is_none(project: ProjectData) -> None:
    await insert(project, memory("Alice likes tea."))
    assert await current(project, uuid.uuid4()) is None


async def test_exact_duplicates_are_skipped_per_scope_and_speaker(project: ProjectData) -> None:
    first = await insert(project, memory("Likes tea."), memory("Likes tea.", speaker="Alice"))
    assert len(first) == 2, "the same text said by another speaker is not a duplicate"

    async with project.transaction() as tables:
        again = await tables.memories.insert(
            [
                memory("Likes tea."),  # same scope, same speaker: skipped
                memory("Likes tea.", scope=BOB),
                memory("Likes tea.", scope=Scope(user_id="alice", agent_id="helper")),
                memory("Likes coffee."),
                memory("Likes coffee."),  # a duplicate within the same insert
                memory("Likes tea.", speaker="Alice", created_at=minutes(5), metadata={"x": 1}),  # only the text counts
            ],
            event_id=None,
            input_messages=None,
        )
    assert [(r.memory, r.scope) for r in again] == [
        ("Likes tea.", BOB),
        ("Likes tea.", Scope(user_id="alice", agent_id="helper")),
        ("Likes coffee.", ALICE),
    ]
    exact = {"AND": [{"user_id": "alice"}, {"NOT": {"agent_id": "*"}}]}
    assert sorted(await page_texts(project, exact)) == ["Likes coffee.", "Likes tea.", "Likes tea."]
    async with project.reading() as tables:
        assert [h.event for h in await tables.history.of_memory(first[0])] == ["ADD"], (
            "a skipped insert adds no history"
        )


# --- page -------------------------------------------------------------------------------------------


@pytest.fixture
async def shelf(project: ProjectData) -> ProjectData:
    """Alice's five memories (one per minute, oldest first) and one of Bob's."""
    await insert(
        project,
        memory("Alice flew to Tokyo.", created_at=minutes(0), categories=["Travel"], metadata={"topic": "trips"}),
        memory("Alice loves ramen.", created_at=minutes(1), categories=["food"], metadata={"topic": "food", "n": 2}),
        memory("Alice cooks pasta_al_dente.", created_at=minutes(2), categories=["food", "hobbies"]),
        memory("Alice reads 50% of a book a day.", created_at=minutes(3), metadata={"tags": ["books", "daily"]}),
        memory("Alice visits Kyoto.", created_at=minutes(4), categories=["travel"]),
        memory("Bob flew to Tokyo.", scope=BOB, created_at=minutes(5), categories=["Travel"]),
    )
    return project


async def test_page_is_newest_first_with_the_total_of_the_whole_selection(shelf: ProjectData) -> None:
    async with shelf.reading() as tables:
        total, first = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=0, limit=2)
        again, second = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=2, limit=2)
        _, last = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=4, limit=2)
    assert total == again == 5
    assert [r.memory for r in first + second + last] == [
        "Alice visits Kyoto.",
        "Alice reads 50% of a book a day.",
        "Alice cooks pasta_al_dente.",
        "Alice loves ramen.",
        "Alice flew to Tokyo.",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"user_id": "bob"}, ["Bob flew to Tokyo."]),
        (
            {"user_id": {"in": ["alice", "bob"]}, "text": {"contains": "Tokyo"}},
            ["Bob flew to Tokyo.", "Alice flew to Tokyo."],
        ),
        ({"user_id": "alice", "categories": {"in": ["TRAVEL"]}}, ["Alice visits Kyoto.", "Alice flew to Tokyo."]),
        ({"user_id": "alice", "categories": {"contains": "hob"}}, ["Alice cooks pasta_al_dente."]),
        ({"user_id": "alice", "metadata": {"topic": "food"}}, ["Alice loves ramen."]),
        ({"user_id": "alice", "metadata": {"n": 2.0}}, ["Alice loves ramen."]),
        ({"user_id": "alice", "metadata": {"tags": {"contains": "books"}}}, ["Alice reads 50% of a book a day."]),
        ({"user_id": "alice", "text": {"icontains": "KYOTO"}}, ["Alice visits Kyoto."]),
        ({"user_id": "alice", "text": {"contains": "kyoto"}}, []),
        ({"user_id": "alice", "keywords": {"icontains": "50%"}}, ["Alice reads 50% of a book a day."]),
        ({"user_id": "alice", "keywords": {"icontains": "a_al"}}, ["Alice cooks pasta_al_dente."]),
        ({"user_id": "alice", "keywords": {"icontains": "%"}}, ["Alice reads 50% of a book a day."]),
        ({"AND": [{"user_id": "*"}, {"NOT": {"user_id": "alice"}}]}, ["Bob flew to Tokyo."]),
        (
            {"user_id": "alice", "OR": [{"metadata": {"topic": "trips"}}, {"categories": {"in": ["hobbies"]}}]},
            ["Alice cooks pasta_al_dente.", "Alice flew to Tokyo."],
        ),
        (
            {"user_id": "alice", "created_at": {"gte": T0.replace(minute=3).isoformat()}},
            ["Alice visits Kyoto.", "Alice reads 50% of a book a day."],
        ),
        ({"user_id": "alice", "created_at": {"lt": "2025-03-01"}}, []),
    ],
)
async def test_page_applies_the_filter(shelf: ProjectData, raw: dict[str, object], expected: list[str]) -> None:
    assert await page_texts(shelf, raw) == expected


async def test_page_selects_memory_ids(shelf: ProjectData) -> None:
    async with shelf.reading() as tables:
        _, records = await tables.memories.page(select(ALICE_ONLY), ReadOptions(), offset=0, limit=100)
    wanted = [str(records[1].id), str(records[3].id), str(uuid.uuid4())]
    assert await page_texts(shelf, {"user_id": "alice", "memory_ids": wanted}) == [records[1].memory, records[3].memory]
    assert await page_texts(shelf, {"user_id": "alice", "memory_ids": []}) == []


async def test_page_hides_expired_memories_unless_asked(project: ProjectData) -> None:
    await insert(
        project,
        memory("Expired yesterday.", expiration_date=date(2000, 1, 1)),
        memory("Expires later.", expiration_date=date(2999, 1, 1), created_at=minutes(1)),
        memory("Never expires.", created_at=minutes(2)),
    )
    assert await page_texts(project, ALICE_ONLY) == ["Never expires.", "Expires later."]
    assert await page_texts(project, ALICE_ONLY, ReadOptions(show_expired=True)) == [
        "Never expires.",
        "Expires later.",
        "Expired yesterday.",
    ]


async def test_page_hides_superseded_memories_only_with_latest_only(project: ProjectData) -> None:
    old, new = await insert(project, memory("Works at Acme."), memory("Works at Globex.", created_at=minutes(1)))
    async with project.transaction() as tables:
        assert await tables.memories.supersede([old], new) == 1
    assert await page_texts(project, ALICE_ONLY) == ["Works at Globex.", "Works at Acme."]
    assert await page_texts(project, ALICE_ONLY, ReadOptions(latest_only=True)) == ["Works at Globex."]


# --- update -----------------------------------------------------------------------------------------


async def test_update_rewrites_the_text_with_its_index_fields_and_records_the_change(project: ProjectData) -> None:
    (memory_id,) = await insert(
        project, memory("Alice lives in Paris.", metadata={"k": 1}, expiration_date=date(2999, 1, 1))
    )
    text = "Alice met Bob in Berlin yesterday."
    index = index_fields(text, speaker=None, observed_at=T0)
    assert index.entities and index.dates, "the new text must carry entities and dates for this test to mean anything"
    async with project.transaction() as tables:
        before = await tables.memories.get(memory_id, lock=True)
        assert before is not None
        updated = await tables.memories.update(before, MemoryPatch(text=text, index=index, embedding=axis(1)))

    assert (updated.id, updated.memory, updated.hash) == (memory_id, text, text_hash(text))
    assert (updated.metadata, updated.expiration_date, updated.created_at) == ({"k": 1}, date(2999, 1, 1), T0)
    assert updated.updated_at > before.updated_at
    async with project.reading() as tables:
        assert await tables.memories.get(memory_id) == updated
        (candidate,) = await tables.search.candidates_by_id([memory_id], axis(1))
        history = await tables.history.of_memory(memory_id)
        new_word = await tables.search.keyword_matches("Berlin", select(ALICE_ONLY), ReadOptions())
        old_word = await tables.search.keyword_matches("Paris", select(ALICE_ONLY), ReadOptions())
    assert candidate.similarity == pytest.approx(1.0, abs=1e-6), "the vector was replaced"
    assert (tuple(candidate.entities), tuple(candidate.dates)) == (index.entities, index.dates)
    assert [(h.event, h.old_memory, h.new_memory) for h in history] == [
        ("ADD", None, "Alice lives in Paris."),
        ("UPDATE", "Alice lives in Paris.", text),
    ]
    assert [m[0] for m in new_word.matches] == [str(memory_id)]
    assert old_word.matches == [], "the keyword index follows the text"


async def test_update_changes_only_what_the_patch_gives(project: ProjectData) -> None:
    text = "Alice met Bob in Berlin yesterday."
    (memory_id,) = await insert(project, memory(text, metadata={"k": 1}, expiration_date=date(2999, 1, 1)))
    async with project.transaction() as tables:
        before = await tables.memories.get(memory_id, lock=True)
        assert before is not None
        kept = await tables.memories.update(before, MemoryPatch(metadata=None, expiration_date=None))
        cleared = await tables.memories.update(
            kept, MemoryPatch(set_metadata=True, set_expiration=True, created_at=minutes(30))
        )
        replaced = await tables.memories.update(cleared, MemoryPatch(metadata={"k": 2}, set_metadata=True))
    assert (kept.memory, kept.hash, kept.metadata, kept.expiration_date) == (
        text,
        before.hash,
        {"k": 1},
        date(2999, 1, 1),
    )
    assert (cleared.metadata, cleared.expiration_date, cleared.created_at) == (None, None, minutes(30))
    assert replaced.metadata == {"k": 2}
    async with project.reading() as tables:
        (candidate,) = await tables.search.candidates_by_id([memory_id], axis(0))
    index = index_fields(text, speaker=None, observed_at=T0)
    assert candidate.similarity == pytest.approx(1.0, abs=1e-6)
    assert (tuple(candidate.entities), tuple(candidate.dates)) == (index.entities, index.dates)


# --- supersede and chains ----------------------------------------------------------------------------


async def test_supersede_links_current_mutable_memories_to_the_new_one(project: ProjectData) -> None:
    old, fixed, new = await insert(
        project, memory("Works at Acme."), memory("Born in Porto.", immutable=True), memory("Works at Globex.")
    )
    async with project.transaction() as tables:
        assert await tables.memories.supersede([old, fixed, new], new) == 1
    replaced, kept, replacing = [await stored(project, i) for i in (old, fixed, new)]
    assert (replaced.replaced_by, replaced.state) == (new, "superseded")
    assert (kept.replaced_by, kept.state) == (None, "active"), "an immutable memory is never superseded"
    assert (replacing.replaced_by, replacing.state) == (None, "active"), "a memory never replaces itself"
    async with project.reading() as tables:
        history = await tables.history.of_memory(old)
    assert [(h.event, h.old_memory, h.new_memory) for h in history] == [
        ("ADD", None, "Works at Acme."),
        ("UPDATE", "Works at Acme.", "Works at Acme."),
    ]


async def test_supersede_never_repoints_a_replaced_memory_nor_links_to_one(project: ProjectData) -> None:
    a, b, c = await insert(project, memory("Works at Acme."), memory("Works at Globex."), memory("Works at Initech."))
    async with project.transaction() as tables:
        assert await tables.memories.supersede([a], b) == 1
        assert await tables.memories.supersede([a], c) == 0, "a is already replaced by b"
        assert await tables.memories.supersede([b], a) == 0, "linking to a replaced memory could close a loop"
        assert await tables.memories.supersede([c], a) == 0
        assert await tables.memories.supersede([c], uuid.uuid4()) == 0, "the new end must exist"
    assert (await stored(project, a)).replaced_by == b
    assert (await stored(project, b)).replaced_by is None
    assert (await stored(project, c)).replaced_by is None


async def test_superseded_chain_follows_every_link_back(project: ProjectData) -> None:
    a, b, c, other = await insert(
        project, memory("Lives in Porto."), memory("Lives in Lisbon."), memory("Lives in Madrid."), memory("Has a cat.")
    )
    async with project.transaction() as tables:
        await tables.memories.supersede([a], b)
        await tables.memories.supersede([b], c)
        await tables.memories.supersede([other], uuid.uuid4())
    async with project.reading() as tables:
        assert sorted(await tables.memories.superseded_chain(c)) == sorted([a, b, c])
        assert sorted(await tables.memories.superseded_chain(b)) == sorted([a, b])
        assert await tables.memories.superseded_chain(a) == [a]
        assert await tables.memories.superseded_chain(other) == [other]


# --- delete -----------------------------------------------------------------------------------------


async def test_delete_removes_the_selected_memories_and_drops_exports_holding_one(project: ProjectData) -> None:
    keep, gone, also_gone = await insert(project, memory("Keeps this."), memory("Forget this."), memory("And this."))
    async with project.transaction() as tables:
        spoilt = await tables.exports.insert(
            scope=ALICE, schema={}, filters=ALICE_ONLY, export_instructions=None, memory_ids=[keep, gone], result={}
        )
        clean = await tables.exports.insert(
            scope=ALICE, schema={}, filters=ALICE_ONLY, export_instructions=None, memory_ids=[keep], result={}
        )
    async with project.transaction() as tables:
        deleted = await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(gone), str(also_gone)]}))
    assert sorted(deleted) == sorted([gone, also_gone])

    assert await current(project, gone) is None
    assert await current(project, also_gone) is None
    assert await current(project, keep) is not None
    async with project.reading() as tables:
        assert await tables.exports.latest(spoilt, None) is None
        assert await tables.exports.latest(clean, None) is not None


async def test_delete_forgets_what_the_memory_said_but_records_that_it_existed(project: ProjectData) -> None:
    """Deleted means deleted: the memory's texts leave its history, and the add that wrote it forgets its
    messages and the deleted item's text; what else that add wrote keeps its text."""
    messages = [{"role": "user", "content": "Keep my tea. Forget my secret."}]
    add = uuid.uuid4()
    async with project.transaction() as tables:
        keep, gone = await tables.memories.insert(
            [memory("Likes tea."), memory("Has a secret.", categories=["private"], metadata={"m": 1})],
            event_id=add,
            input_messages=messages,
        )
        await tables.events.create(
            event_type=EventType.ADD,
            status=EventStatus.SUCCEEDED,
            payload={"messages": messages, "user_id": "alice"},
            results=[add_result(keep), add_result(gone)],
            event_id=add,
            scope=ALICE,
        )
    async with project.transaction() as tables:
        assert await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(gone.id)]})) == [gone.id]

    async with project.reading() as tables:
        gone_history = await tables.history.of_memory(gone.id)
        kept_history = await tables.history.of_memory(keep.id)
        event = await tables.events.get(add)
    assert [(h.event, h.old_memory, h.new_memory, h.input, h.categories, h.metadata) for h in gone_history] == [
        ("ADD", None, None, [], [], None),
        ("DELETE", None, None, [], [], None),
    ]
    assert gone_history[1].scope == ALICE
    assert [(h.event, h.new_memory, h.input) for h in kept_history] == [("ADD", "Likes tea.", [])], (
        "the add's messages said what the deleted memory said"
    )
    assert event is not None
    assert event.payload == {"redacted": True, "user_id": "alice"}
    assert event.results == [
        add_result(keep),
        {**add_result(gone), "memory": None, "data": {"memory": None}, "deleted": True},
    ]


async def test_delete_leaves_no_text_in_the_stored_response_of_an_idempotent_add(project: ProjectData) -> None:
    """What the add route does for a verbatim add with an Idempotency-Key, then a delete of what it wrote."""
    event_id = uuid.uuid4()
    async with project.transaction() as tables:
        assert await tables.idempotency.claim("retry-1", "add", "request-hash") is None
        (secret,) = await tables.memories.insert([memory("My PIN is 4321.")], event_id=event_id, input_messages=None)
        response = {"status": "SUCCEEDED", "event_id": str(event_id), "results": [add_result(secret)]}
        await tables.idempotency.store_response("retry-1", response)
    async with project.transaction() as tables:
        assert await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(secret.id)]})) == [secret.id]
    async with project.transaction() as tables:
        replay = await tables.idempotency.claim("retry-1", "add", "request-hash")
    assert replay is not None
    assert "4321" not in json.dumps(replay[1]), "deleted means deleted: the text is kept nowhere"


async def test_delete_of_nothing_deletes_nothing(project: ProjectData) -> None:
    (keep,) = await insert(project, memory("Keeps this."))
    async with project.transaction() as tables:
        assert await tables.memories.delete(select({"user_id": "nobody"})) == []
    assert await current(project, keep) is not None


async def test_a_rolled_back_delete_keeps_everything(project: ProjectData) -> None:
    (keep,) = await insert(project, memory("Keeps this."))
    with pytest.raises(RuntimeError):
        async with project.transaction() as tables:
            assert await tables.memories.delete(select(ALICE_ONLY)) == [keep]
            raise RuntimeError("the request failed after the delete")
    assert await current(project, keep) is not None
    async with project.reading() as tables:
        assert [h.event for h in await tables.history.of_memory(keep)] == ["ADD"]


async def test_deleting_a_correction_makes_what_it_corrected_current_again(project: ProjectData) -> None:
    berlin, paris = await insert(project, memory("I live in Berlin."), memory("I live in Paris."))
    async with project.transaction() as tables:
        assert await tables.memories.supersede([berlin], paris) == 1
        assert await tables.memories.delete(select({"user_id": "alice", "memory_ids": [str(paris)]})) == [paris]
    async with project.reading() as tables:
        restored = await tables.memories.get(berlin)
        _, latest = await tables.memories.page(select(ALICE_ONLY), ReadOptions(latest_only=True), offset=0, limit=10)
        history = await tables.history.of_memory(berlin)
    assert restored is not None and (restored.replaced_by, restored.state) == (None, "active")
    assert [m.id for m in latest] == [berlin]
    assert [h.event for h in history] == ["ADD", "UPDATE", "UPDATE"]
