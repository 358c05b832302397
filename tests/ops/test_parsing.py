"""What ``mnemo import`` reads from a memory object and a document, and how its progress is shown; no
database or server."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from mnemo.ops import ProgressBar
from mnemo.pipeline.import_sources import SourceError, memories_in
from mnemo.pipeline.importer import InvalidMemory, parse_memory

ID = str(uuid.uuid4())


def test_documents_of_every_platform_shape() -> None:
    item = {"id": ID, "memory": "x"}
    assert memories_in([item], "f") == memories_in({"results": [item]}, "f") == memories_in({"memories": [item]}, "f")
    for document in ({"count": 1}, "text", 3, {"results": "x"}):
        with pytest.raises(SourceError, match="holds no memories"):
            memories_in(document, "f")


def test_a_get_all_item_is_read_as_it_is() -> None:
    replaced = str(uuid.uuid4())
    memory = parse_memory(
        {
            "id": ID,
            "memory": "Alice works at Acme.",
            "user_id": "alice",
            "agent_id": None,
            "app_id": "",
            "session_id": "run-1",
            "metadata": {"a": [1, {"b": None}]},
            "categories": ["work"],
            "created_at": "2024-07-20T01:23:45.123456-07:00",
            "updated_at": "2024-07-21T00:00:00+00:00",
            "expiration_date": "2031-01-02",
            "immutable": True,
            "actor_name": "Alice",
            "attributed_to": "user",
            "replaced_by": replaced,
            "lifecycle_state": "superseded",
            "score": 0.5,
        }
    )
    assert (memory.id, memory.text, memory.metadata, memory.categories) == (
        uuid.UUID(ID),
        "Alice works at Acme.",
        {"a": [1, {"b": None}]},
        ["work"],
    )
    assert memory.scope.as_dict() == {"user_id": "alice", "agent_id": None, "app_id": None, "run_id": "run-1"}
    assert memory.created_at == datetime(2024, 7, 20, 8, 23, 45, 123456, tzinfo=UTC)
    assert memory.updated_at == datetime(2024, 7, 21, tzinfo=UTC)
    assert (memory.expiration_date, memory.immutable) == (date(2031, 1, 2), True)
    assert (memory.actor_name, memory.attributed_to, memory.replaced_by, memory.state) == (
        "Alice",
        "user",
        uuid.UUID(replaced),
        "superseded",
    )


def test_export_items_and_defaults() -> None:
    memory = parse_memory({"id": ID, "text": "Likes tea.", "run_id": "r", "created_at": 1_700_000_000})
    assert (memory.text, memory.scope.run_id, memory.categories, memory.metadata) == ("Likes tea.", "r", [], None)
    assert memory.created_at == memory.updated_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert parse_memory({"id": ID, "content": "c", "created_at": "2024-01-01T00:00:00"}).created_at.tzinfo is UTC
    linked = parse_memory({"id": ID, "memory": "m", "replaced_by": str(uuid.uuid4()), "lifecycle_state": "odd"})
    assert linked.state == "superseded"
    assert parse_memory({"id": ID, "memory": "m", "lifecycle_state": "deleted"}).state == "active"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"memory": "m"}, "has no id"),
        ({"id": "x1", "memory": "m"}, "'x1' is not a UUID"),
        ({"id": ID, "memory": "  "}, "has no text"),
        ({"id": ID, "memory": "m", "metadata": [1]}, "metadata is not an object"),
        ({"id": ID, "memory": "m", "categories": "work"}, "categories is not a list"),
        ({"id": ID, "memory": "m", "created_at": "yesterday"}, "is not an ISO 8601 time"),
        ({"id": ID, "memory": "m", "expiration_date": "soon"}, "is not a date"),
        ({"id": ID, "memory": "a\x00b"}, "NUL character"),
        ({"id": ID, "memory": "m", "metadata": {"k": "\ud800"}}, "unpaired UTF-16 surrogate"),
        ([ID], "a list, not a memory object"),
    ],
)
def test_what_is_not_a_memory_says_why(item: Any, reason: str) -> None:
    with pytest.raises(InvalidMemory, match=reason.replace("(", r"\(")):
        parse_memory(item)


def test_progress_without_a_terminal_is_a_line_now_and_then() -> None:
    out = io.StringIO()
    bar = ProgressBar("import", out, width=10)
    bar.update(0, 40)
    bar.update(10, 40)  # within 5 s of the last line: not shown
    bar.update(40, 40, "done", final=True)
    assert out.getvalue().splitlines() == ["import [..........] 0/40", "import [##########] 40/40 done"]
