"""The filters DSL (spec §5): parsing and its errors, scope checks, and SQL == Python semantics."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

from mnemo.filters import (
    And,
    DateCondition,
    EntityCondition,
    FilterError,
    IdsCondition,
    MemoryFacts,
    MetadataCondition,
    Node,
    Not,
    Or,
    evaluate,
    fields_named,
    has_positive_scope,
    parse_filter,
)
from mnemo.storage.filter_sql import compile_filter

ID1 = "6f9619ff-8b86-d011-b42d-00cf4fc964ff"
ID2 = "0b0e8c3e-35e2-4e2b-9a53-4f7f4d1c2b10"

# Spec §5.3, verbatim except that the placeholder ids "id1"/"id2" are real UUIDs (memory ids are UUIDs).
SPEC_EXAMPLES: list[dict[str, Any]] = [
    {"user_id": "alice"},
    {"user_id": "alice", "categories": {"in": ["finance"]}},
    {"AND": [{"user_id": "alice"}, {"run_id": "*"}]},
    {"OR": [{"user_id": "alice"}, {"agent_id": {"in": ["travel-agent", "sports-agent"]}}]},
    {"AND": [{"user_id": "u1"}, {"created_at": {"gte": "2024-07-01", "lte": "2024-07-31"}}]},
    {"AND": [{"user_id": "u1"}, {"NOT": {"categories": {"in": ["spam", "test"]}}}]},
    {"AND": [{"agent_id": "*"}, {"agent_id": {"ne": "old_agent"}}]},
    {"OR": [{"metadata": {"type": "semantic"}}, {"metadata": {"type": "episodic"}}]},
    {"AND": [{"user_id": "u1"}, {"keywords": {"icontains": "invoice"}}]},
    {"AND": [{"user_id": "u1"}, {"memory_ids": [ID1, ID2]}]},
]


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"user_id": "u"}
    for _ in range(depth - 1):
        node = {"AND": [node]}
    return node


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", SPEC_EXAMPLES)
def test_spec_examples_parse_and_compile(raw: dict[str, Any]) -> None:
    node = parse_filter(raw)
    text, params = compile_filter(node)
    assert text.as_string(None).count("%s") == len(params)
    # All but the metadata-only example name an entity positively.
    assert has_positive_scope(node) is ("metadata" not in str(raw))


def test_parse_builds_the_expected_tree() -> None:
    node = parse_filter({"user_id": "alice", "created_at": {"gte": "2024-07-01", "lte": "2024-07-31"}})
    assert node == And(
        (
            EntityCondition("user_id", "eq", ("alice",)),
            And(
                (
                    DateCondition("created_at", "gte", date(2024, 7, 1)),
                    DateCondition("created_at", "lte", date(2024, 7, 31)),
                )
            ),
        )
    )
    assert parse_filter({"run_id": "*"}) == EntityCondition("run_id", "exists", ())
    assert parse_filter({"NOT": [{"user_id": "a"}, {"user_id": "b"}]}) == Not(
        Or((EntityCondition("user_id", "eq", ("a",)), EntityCondition("user_id", "eq", ("b",))))
    )
    assert parse_filter({"memory_ids": {"in": [ID1.upper()]}}) == IdsCondition((ID1,))
    assert parse_filter({"metadata": {"doc": {"eq": {"a": [1]}}}}) == MetadataCondition("doc", "eq", {"a": [1]})


def test_datetime_values_are_utc_and_naive_means_utc() -> None:
    assert parse_filter({"created_at": {"gt": "2024-07-01T12:00:00"}}) == DateCondition(
        "created_at", "gt", datetime(2024, 7, 1, 12, tzinfo=UTC)
    )
    node = parse_filter({"updated_at": {"lt": "2024-07-01T12:00:00+02:00"}})
    assert node == DateCondition("updated_at", "lt", datetime(2024, 7, 1, 10, tzinfo=UTC))
    # expiration_date is a date column: a datetime is reduced to its UTC date.
    node = parse_filter({"expiration_date": "2024-07-01T23:30:00-02:00"})
    assert node == DateCondition("expiration_date", "eq", date(2024, 7, 2))


INVALID: list[tuple[object, Sequence[str]]] = [
    ({"foo": "x"}, ["Unknown filter key 'foo'", "AND, OR, NOT, user_id", "memory_ids, keywords"]),
    ({"and": [{"user_id": "a"}]}, ["Unknown filter key 'and'"]),
    ({"created_at": {"eq": "2024-07-01"}}, ["'eq'", "created_at", "gt, gte, lt, lte, ne, in"]),
    ({"metadata": {"type": {"in": ["a", "b"]}}}, ["'in'", "metadata key 'type'", "eq, ne, contains"]),
    ({"metadata": {"type": {"gt": 1}}}, ["'gt'", "metadata key 'type'"]),
    ({"metadata": {"in": ["a"]}}, ["'in'", "directly under metadata"]),
    ({"metadata": {"type": {"nested": "x"}}}, ["'nested'", "top-level metadata keys"]),
    ({"created_at": {">=": "2024-07-01"}}, ["SQL-style operator '>='", "created_at"]),
    ({"user_id": {"!=": "a"}}, ["SQL-style operator '!='", "eq, ne, in"]),
    ({"created_at": "2024-02-30"}, ["Invalid date '2024-02-30'", "day is out of range"]),
    ({"updated_at": {"gte": "July 1st"}}, ["Invalid date 'July 1st'", "YYYY-MM-DD"]),
    ({"created_at": {"lt": 20240701}}, ["created_at", "got a number"]),
    ({"AND": []}, ["AND", "non-empty list"]),
    ({"OR": {"user_id": "a"}}, ["OR takes a list", "got an object"]),
    ({"AND": ["user_id"]}, ["must be a JSON object", "'user_id'"]),
    ({"NOT": "alice"}, ["NOT takes a filter object", "got a string"]),
    ({"NOT": []}, ["NOT", "non-empty list"]),
    ({}, ["must not be empty"]),
    (["user_id"], ["must be a JSON object", "got a list"]),
    ({"user_id": 42}, ["user_id must be a non-empty string", "got a number: 42"]),
    ({"user_id": ""}, ["user_id must be a non-empty string"]),
    ({"agent_id": ["a", "b"]}, ["agent_id takes a single id", "'in'"]),
    ({"app_id": {"in": "a"}}, ["app_id 'in' takes a list", "got a string"]),
    ({"run_id": {"contains": "a"}}, ["'contains'", "run_id", "eq, ne, in"]),
    ({"run_id": {}}, ["Empty operator object", "run_id"]),
    ({"categories": {"eq": "finance"}}, ["'eq'", "categories", "in, contains"]),
    ({"categories": ["finance"]}, ["categories takes an operator object"]),
    ({"categories": {"in": ["a", 1]}}, ["categories 'in' takes a string", "got a number"]),
    ({"keywords": "invoice"}, ["keywords takes an operator object"]),
    ({"text": {"eq": "x"}}, ["'eq'", "text", "contains, icontains"]),
    ({"keywords_search": {"contains": 3}}, ["keywords_search 'contains' takes a string"]),
    ({"memory_ids": ["id1"]}, ["memory_ids must be UUID strings", "'id1'"]),
    ({"memory_ids": ID1}, ["memory_ids takes a list"]),
    ({"metadata": {}}, ["metadata takes a non-empty object"]),
    ({"metadata": "semantic"}, ["metadata takes a non-empty object"]),
    ({"metadata": {"tags": {"contains": ["a"]}}}, ["metadata.tags 'contains'", "got a list"]),
    ({"metadata": {"score": float("nan")}}, ["finite"]),
    (_nested(33), ["nested too deeply", "32"]),
    ({"OR": [{"user_id": str(i)} for i in range(1_001)]}, ["1001 items", "at most 1000"]),
    ({"user_id": {"in": ["u"] * 1_001}}, ["user_id 'in' has 1001 items"]),
    ({"OR": [{"user_id": "a", "agent_id": "b"} for _ in range(400)]}, ["too large", "1000 conditions"]),
]


@pytest.mark.parametrize(("raw", "fragments"), INVALID)
def test_invalid_filters_are_rejected_with_a_useful_message(raw: object, fragments: Sequence[str]) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(raw)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    for fragment in fragments:
        assert fragment in message, message


def test_limits_are_inclusive() -> None:
    parse_filter(_nested(32))
    parse_filter({"user_id": {"in": ["u"] * 1_000}})


def test_fields_named_lists_the_fields_as_written() -> None:
    node = parse_filter(
        {
            "user_id": "a",
            "OR": [{"timestamp": {"ne": "2024-07-01"}}, {"metadata": {"k": 1, "j": {"ne": 2}}}],
            "NOT": {"categories": {"in": ["x"]}, "keywords": {"contains": "y"}, "memory_ids": [ID1]},
        }
    )
    assert list(fields_named(node)) == [
        "user_id",
        "timestamp",
        "metadata",
        "metadata",
        "categories",
        "keywords",
        "memory_ids",
    ]


def test_the_filters_package_imports_only_the_standard_library() -> None:
    code = "import sys, mnemo.filters; print(*sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    loaded = [name for name in out.split() if name.split(".")[0] in ("mnemo", "psycopg")]
    assert all(name == "mnemo" or name.startswith("mnemo.filters") for name in loaded), loaded


# --------------------------------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"user_id": "alice"}, True),
        ({"agent_id": {"in": ["a", "b"]}}, True),
        ({"run_id": "*"}, True),
        ({"app_id": {"eq": "x"}}, True),
        ({"user_id": {"ne": "alice"}}, False),
        ({"NOT": {"user_id": "alice"}}, False),
        ({"NOT": {"NOT": {"user_id": "alice"}}}, False),
        ({"categories": {"in": ["a"]}}, False),
        ({"metadata": {"user_id": "alice"}}, False),
        ({"AND": [{"user_id": {"ne": "a"}}, {"agent_id": "b"}]}, True),
        ({"user_id": {"ne": "a"}, "created_at": "2024-07-01"}, False),
        ({"user_id": {"ne": "a", "in": ["b"]}}, True),
        ({"OR": [{"user_id": "a"}, {"agent_id": "b"}]}, True),
        ({"OR": [{"user_id": "a"}, {"keywords": {"contains": "x"}}]}, False),
        (
            {"OR": [{"user_id": "a"}, {"AND": [{"agent_id": "*"}, {"created_at": {"gt": "2024-01-01"}}]}]},
            True,
        ),
        ({"AND": [{"OR": [{"user_id": "a"}, {"run_id": {"ne": "r"}}]}, {"memory_ids": [ID1]}]}, False),
    ],
)
def test_has_positive_scope(raw: dict[str, Any], expected: bool) -> None:
    assert has_positive_scope(parse_filter(raw)) is expected


def test_empty_or_is_not_a_scope() -> None:
    assert has_positive_scope(Or(())) is False
    assert has_positive_scope(And((Or(()), EntityCondition("user_id", "eq", ("a",))))) is True


# --------------------------------------------------------------------------------------------------
# Semantics in Python (the SQL is held to the same semantics by the property test below)
# --------------------------------------------------------------------------------------------------


def _facts(**overrides: Any) -> MemoryFacts:
    values: dict[str, Any] = {
        "id": ID1,
        "memory": "Paid 50% of the invoice_2024",
        "created_at": datetime(2024, 7, 1, 23, 59, 59, 999_999, tzinfo=UTC),
        "updated_at": datetime(2024, 7, 2, tzinfo=UTC),
    }
    values.update(overrides)
    return MemoryFacts(**values)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"created_at": "2024-07-01"}, True),
        ({"timestamp": "2024-07-01"}, True),
        ({"created_at": "2024-07-02"}, False),
        ({"created_at": {"ne": "2024-07-01"}}, False),
        ({"created_at": {"lte": "2024-07-01"}}, True),  # lte with a day includes the whole day
        ({"created_at": {"lt": "2024-07-01"}}, False),
        ({"created_at": {"gte": "2024-07-01"}}, True),
        ({"created_at": {"gt": "2024-07-01"}}, True),  # gt with a day compares to the day's start
        ({"created_at": {"gt": "2024-07-01T23:59:59.999999"}}, False),
        ({"created_at": {"lt": "2024-07-02T01:00:00+02:00"}}, False),  # = 2024-07-01T23:00Z
        ({"created_at": {"in": ["2024-06-01", "2024-07-01"]}}, True),
        ({"updated_at": "2024-07-02T00:00:00Z"}, True),
        ({"updated_at": {"lte": "2024-07-01"}}, False),
        ({"expiration_date": {"ne": "2024-07-01"}}, True),  # no expiration date: ne matches
        ({"expiration_date": {"lte": "2100-01-01"}}, False),
        ({"keywords": {"contains": "50%"}}, True),
        ({"keywords": {"contains": "invoice_2024"}}, True),
        ({"keywords": {"contains": "INVOICE"}}, False),
        ({"keywords": {"icontains": "INVOICE"}}, True),
        ({"text": {"contains": "5_%"}}, False),
        ({"user_id": {"ne": "alice"}}, True),  # ne matches a missing id
        ({"user_id": "*"}, False),
        ({"NOT": {"user_id": "alice"}}, True),
        ({"memory_ids": [ID1.upper()]}, True),
        ({"memory_ids": []}, False),
    ],
)
def test_evaluate_semantics(raw: dict[str, Any], expected: bool) -> None:
    assert evaluate(parse_filter(raw), _facts()) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"metadata": {"type": "semantic"}}, True),
        ({"metadata": {"type": "SEMANTIC"}}, False),
        ({"metadata": {"type": {"contains": "MANT"}}}, True),
        ({"metadata": {"type": {"ne": "semantic"}}}, False),
        ({"metadata": {"missing": {"ne": "x"}}}, True),
        ({"metadata": {"score": 1}}, True),  # stored 1.0: JSON numbers compare by value
        ({"metadata": {"flag": 1}}, False),  # stored true: booleans are not numbers
        ({"metadata": {"flag": True, "score": {"ne": 2}}}, True),
        ({"metadata": {"tags": {"contains": "b"}}}, True),
        ({"metadata": {"tags": {"contains": "B"}}}, False),  # list elements match exactly
        ({"metadata": {"tags": ["a", "b"]}}, True),
        ({"metadata": {"doc": {"eq": {"k": [1, {"x": None}]}}}}, True),
        ({"metadata": {"none": None}}, True),
        ({"metadata": {"missing": None}}, False),
        ({"categories": {"in": ["FINANCE"]}}, True),
        ({"categories": {"contains": "Vel"}}, True),
        ({"categories": {"contains": "%"}}, False),
    ],
)
def test_evaluate_metadata_and_categories(raw: dict[str, Any], expected: bool) -> None:
    facts = _facts(
        categories=("finance", "Travel"),
        metadata={
            "type": "semantic",
            "score": 1.0,
            "flag": True,
            "tags": ["a", "b"],
            "doc": {"k": [1, {"x": None}]},
            "none": None,
        },
    )
    assert evaluate(parse_filter(raw), facts) is expected


def test_compiled_sql_has_no_inline_values() -> None:
    evil = "x'); DROP TABLE memories; --"
    node = parse_filter(
        {
            "OR": [
                {"user_id": evil},
                {"metadata": {evil: {"contains": evil}}},
                {"keywords": {"icontains": evil}},
                {"categories": {"in": [evil]}},
            ]
        }
    )
    text, params = compile_filter(node, alias="mem")
    rendered = text.as_string(None)
    assert "DROP" not in rendered and "drop" not in rendered
    assert rendered.count("%s") == len(params)
    assert '"mem"."user_id"' in rendered
    assert isinstance(text, sql.Composable)


# --------------------------------------------------------------------------------------------------
# SQL == Python, on a real PostgreSQL
# --------------------------------------------------------------------------------------------------

TABLE = """
CREATE TABLE memories (
    id              uuid PRIMARY KEY,
    user_id         text,
    agent_id        text,
    app_id          text,
    run_id          text,
    memory          text NOT NULL,
    metadata        jsonb,
    categories      text[] NOT NULL DEFAULT '{}',
    expiration_date date,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
)
"""
INSERT = """
INSERT INTO memories (id, user_id, agent_id, app_id, run_id, memory, metadata, categories,
                      expiration_date, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
SELECT = sql.SQL("SELECT id FROM memories m WHERE {}")

IDS = [str(uuid.UUID(int=n)) for n in range(1, 13)]
USERS = ["alice", "bob", "Alice"]
AGENTS = ["a1", "a2"]
APPS = ["app1", "app2"]
RUNS = ["r1", "r2"]
CATEGORIES = ["finance", "Finance_news", "travel", "food%", "sports_x", "spam"]
META_KEYS = ["type", "tags", "flag"]
META_SCALARS: list[Any] = ["semantic", "Episodic", "50%_off", "", 1, 1.0, True, False, None]
META_VALUES: list[Any] = [*META_SCALARS, ["a", "B"], ["semantic", 1, True], [], {"a": 1}, {"a": [1.0, True]}]
META_NEEDLES: list[Any] = ["sem", "EPI", "%", "_", "a", "b", "", 1, True, None, "Semantic"]
TEXTS = ["Paid 50% of the invoice", "user_name is alice", "INVOICE due", "back\\slash", "100%_sure", "plain"]
NEEDLES = ["%", "_", "50%", "invoice", "INVOICE", "\\", "e_n", "a", "", "%_"]
DAY0 = datetime(2024, 7, 1, tzinfo=UTC)
INSTANTS = [DAY0 + delta for delta in (timedelta(0), timedelta(hours=12), timedelta(microseconds=-1))]
INSTANTS += [instant + timedelta(days=days) for instant in INSTANTS for days in (-1, 1)]
DAYS = [date(2024, 6, 30), date(2024, 7, 1), date(2024, 7, 2)]
DATE_VALUES = [
    "2024-06-30",
    "2024-07-01",
    "2024-07-02",
    "2024-07-01T00:00:00",
    "2024-07-01T12:00:00Z",
    "2024-07-01T23:59:59.999999",
    "2024-07-02T01:30:00+02:00",
    "2024-06-30T22:00:00-02:00",
]


def _with_a_stranger(values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from([*values, "zed"])


ENTITY_VALUES: dict[str, st.SearchStrategy[str]] = {
    "user_id": _with_a_stranger(USERS),
    "agent_id": _with_a_stranger(AGENTS),
    "app_id": _with_a_stranger(APPS),
    "run_id": _with_a_stranger(RUNS),
}


def _memories(rows: list[dict[str, Any]]) -> list[MemoryFacts]:
    return [MemoryFacts(id=IDS[n], **row) for n, row in enumerate(rows)]


memories_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "user_id": st.none() | st.sampled_from(USERS),
            "agent_id": st.none() | st.sampled_from(AGENTS),
            "app_id": st.none() | st.sampled_from(APPS),
            "run_id": st.none() | st.sampled_from(RUNS),
            "memory": st.sampled_from(TEXTS) | st.text(alphabet="aA%_\\ ", max_size=6),
            "categories": st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True).map(tuple),
            "metadata": st.none()
            | st.dictionaries(st.sampled_from(META_KEYS), st.sampled_from(META_VALUES), max_size=3),
            "created_at": st.sampled_from(INSTANTS),
            "updated_at": st.sampled_from(INSTANTS),
            "expiration_date": st.none() | st.sampled_from(DAYS),
        }
    ),
    min_size=3,
    max_size=len(IDS),
).map(_memories)


def _entity_leaf(field: str) -> st.SearchStrategy[dict[str, Any]]:
    value = ENTITY_VALUES[field]
    condition = st.one_of(
        value,
        st.just("*"),
        st.builds(lambda v: {"eq": v}, value),
        st.builds(lambda v: {"ne": v}, value),
        st.builds(lambda vs: {"in": vs}, st.lists(value, max_size=3)),
        st.builds(lambda v, vs: {"ne": v, "in": vs}, value, st.lists(value, max_size=3)),
    )
    return condition.map(lambda c: {field: c})


DATE_VALUE = st.sampled_from(DATE_VALUES)
DATE_CONDITION = st.one_of(
    DATE_VALUE,
    st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte", "ne"]), DATE_VALUE),
    st.builds(lambda vs: {"in": vs}, st.lists(DATE_VALUE, max_size=3)),
    st.builds(lambda a, b: {"gte": a, "lte": b}, DATE_VALUE, DATE_VALUE),
)
DATE_LEAF = st.builds(
    lambda field, c: {field: c},
    st.sampled_from(["created_at", "updated_at", "timestamp", "expiration_date"]),
    DATE_CONDITION,
)

CATEGORY_LEAF = st.one_of(
    st.builds(lambda vs: {"in": vs}, st.lists(st.sampled_from([*CATEGORIES, "FINANCE", "Food%"]), max_size=3)),
    st.builds(lambda v: {"contains": v}, st.sampled_from(["fin", "FOOD%", "_", "%", "s_x", "", "zz", "AVE"])),
).map(lambda c: {"categories": c})

META_CONDITION = st.one_of(
    st.sampled_from([*META_SCALARS, ["a", "b"], []]),
    st.builds(lambda v: {"eq": v}, st.sampled_from(META_VALUES)),
    st.builds(lambda v: {"ne": v}, st.sampled_from(META_VALUES)),
    st.builds(lambda v: {"contains": v}, st.sampled_from(META_NEEDLES)),
    st.builds(lambda a, b: {"ne": a, "contains": b}, st.sampled_from(META_VALUES), st.sampled_from(META_NEEDLES)),
)
METADATA_LEAF = st.dictionaries(st.sampled_from(META_KEYS), META_CONDITION, min_size=1, max_size=2).map(
    lambda c: {"metadata": c}
)

TEXT_LEAF = st.builds(
    lambda field, op, needle: {field: {op: needle}},
    st.sampled_from(["text", "keywords", "keywords_search"]),
    st.sampled_from(["contains", "icontains"]),
    st.sampled_from(NEEDLES) | st.text(alphabet="aA%_\\", max_size=3),
)

ID_LIST = st.lists(st.sampled_from(IDS).map(lambda i: i if int(i[-1], 16) % 2 else i.upper()), max_size=4)
IDS_LEAF = st.one_of(ID_LIST, ID_LIST.map(lambda ids: {"in": ids})).map(lambda c: {"memory_ids": c})

LEAF = st.one_of(
    st.sampled_from(list(ENTITY_VALUES)).flatmap(_entity_leaf),
    DATE_LEAF,
    CATEGORY_LEAF,
    METADATA_LEAF,
    TEXT_LEAF,
    IDS_LEAF,
)


def _siblings(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    if left.keys() & right.keys():
        return {"AND": [left, right]}
    return {**left, **right}


def filters(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Random valid filters: AND / OR / NOT (object or list) / sibling keys, nested up to ``depth``."""
    if depth == 0:
        return LEAF
    sub = filters(depth - 1)
    return st.one_of(
        LEAF,
        st.lists(sub, min_size=1, max_size=3).map(lambda xs: {"AND": xs}),
        st.lists(sub, min_size=1, max_size=3).map(lambda xs: {"OR": xs}),
        sub.map(lambda x: {"NOT": x}),
        st.lists(sub, min_size=1, max_size=2).map(lambda xs: {"NOT": xs}),
        st.builds(_siblings, sub, sub),
    )


def _insert(conn: psycopg.Connection[Any], memories: Sequence[MemoryFacts]) -> None:
    conn.execute("DELETE FROM memories")
    with conn.cursor() as cur:
        cur.executemany(
            INSERT,
            [
                (
                    m.id,
                    m.user_id,
                    m.agent_id,
                    m.app_id,
                    m.run_id,
                    m.memory,
                    None if m.metadata is None else Jsonb(m.metadata),
                    list(m.categories),
                    m.expiration_date,
                    m.created_at,
                    m.updated_at,
                )
                for m in memories
            ],
        )


def _subtrees(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, And | Or):
        for child in node.children:
            yield from _subtrees(child)
    elif isinstance(node, Not):
        yield from _subtrees(node.child)


def _check_same(conn: psycopg.Connection[Any], memories: Sequence[MemoryFacts], raw: object) -> None:
    """SQL and Python select the same memories, for the filter (``WHERE``) and for each of its sub-filters
    (a deep AND/OR often selects all or nothing, so the sub-filters are where most of the checking
    happens; they are evaluated as ``IS TRUE`` columns of one query, which is what ``WHERE`` does)."""
    root = parse_filter(raw)
    where, params = compile_filter(root)
    from_sql = {str(row[0]) for row in conn.execute(SELECT.format(where), params)}
    from_python = {m.id for m in memories if evaluate(root, m)}
    assert from_sql == from_python, f"{raw!r}: SQL {sorted(from_sql)} != Python {sorted(from_python)}"

    nodes = list(_subtrees(root))[1:]
    if not nodes or not memories:
        return
    columns: list[sql.Composable] = []
    all_params: list[object] = []
    for node in nodes:
        condition, node_params = compile_filter(node)
        columns.append(sql.SQL("({}) IS TRUE").format(condition))
        all_params.extend(node_params)
    query = sql.SQL("SELECT id, {} FROM memories m").format(sql.SQL(", ").join(columns))
    rows = {str(row[0]): row[1:] for row in conn.execute(query, all_params)}
    for m in memories:
        for node, matched in zip(nodes, rows[m.id], strict=True):
            assert matched == evaluate(node, m), f"{node!r} of {raw!r} on {m!r}: SQL says {matched}"


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True, options="-c TimeZone=UTC") as connection:
        connection.execute(TABLE)
        yield connection


def test_compiled_sql_agrees_with_evaluate(conn: psycopg.Connection[Any]) -> None:
    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(memories=memories_strategy, raws=st.lists(filters(3), min_size=1, max_size=3))
    def check(memories: list[MemoryFacts], raws: list[dict[str, Any]]) -> None:
        _insert(conn, memories)
        for raw in raws:
            _check_same(conn, memories, raw)

    check()


def test_sql_does_not_depend_on_the_session_time_zone(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET TimeZone = 'Pacific/Kiritimati'")  # UTC+14: any day boundary mistake shows
    memories = [
        MemoryFacts(
            id=IDS[n],
            memory="m",
            created_at=instant,
            updated_at=instant,
            expiration_date=instant.astimezone(timezone(timedelta(hours=14))).date(),
        )
        for n, instant in enumerate(INSTANTS)
    ]
    _insert(conn, memories)
    for value in DATE_VALUES:
        for field in ("created_at", "expiration_date"):
            for condition in (value, {"lte": value}, {"gt": value}, {"ne": value}):
                _check_same(conn, memories, {field: condition})


@pytest.mark.parametrize(
    "raw",
    [
        {"user_id": "a\x00b"},
        {"keywords": {"contains": "\ud800"}},
        {"metadata": {"k\x00": 1}},
        {"metadata": {"k": {"eq": {"x": ["\x00"]}}}},
        {"metadata": {"k": {"eq": {str(n): n for n in range(1_001)}}}},
    ],
)
def test_values_postgres_cannot_store_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(FilterError):
        parse_filter(raw)
