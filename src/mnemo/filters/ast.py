"""The filter AST: frozen dataclasses, the field names and limits of the language, and what a filter sees
of a memory. Pure data; ``parser`` builds it, ``evaluate`` decides it in Python, storage compiles it to SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeAlias

MAX_DEPTH = 32
MAX_NODES = 1_000
MAX_LIST_ITEMS = 1_000

LOGICAL_KEYS: tuple[str, ...] = ("AND", "OR", "NOT")
ENTITY_FIELDS: tuple[str, ...] = ("user_id", "agent_id", "app_id", "run_id")
DATE_FIELDS: tuple[str, ...] = ("created_at", "updated_at", "timestamp", "expiration_date")
TEXT_FIELDS: tuple[str, ...] = ("text", "keywords_search", "keywords")
FILTER_FIELDS: tuple[str, ...] = (
    "user_id",
    "agent_id",
    "app_id",
    "run_id",
    "created_at",
    "updated_at",
    "timestamp",
    "expiration_date",
    "text",
    "categories",
    "metadata",
    "keywords_search",
    "memory_ids",
    "keywords",
)
ALLOWED_KEYS: tuple[str, ...] = (*LOGICAL_KEYS, *FILTER_FIELDS)

# Every operator word of the DSL (and OSS's); a metadata key cannot be one of them.
OPERATOR_WORDS: frozenset[str] = frozenset({"eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains", "icontains"})
# SQL comparison symbols, which the DSL rejects wherever an operator could stand.
SQL_SYMBOLS: frozenset[str] = frozenset({"=", "==", "!=", "<>", "<", "<=", ">", ">="})

JsonValue: TypeAlias = Any
"""A JSON value as ``json.loads`` returns it: None, bool, int, float, str, list, dict[str, ...]."""

EntityOp = Literal["eq", "ne", "in", "exists"]
DateOp = Literal["eq", "gt", "gte", "lt", "lte"]
CategoryOp = Literal["in", "contains"]
MetadataOp = Literal["eq", "ne", "contains"]
TextOp = Literal["contains", "icontains"]


class FilterError(ValueError):
    """The filter is malformed; the message says which key, operator or value, and what is allowed."""


@dataclass(frozen=True, slots=True)
class MemoryFacts:
    """What a filter can see of one memory (for ``evaluate``)."""

    id: str
    memory: str
    created_at: datetime
    updated_at: datetime
    user_id: str | None = None
    agent_id: str | None = None
    app_id: str | None = None
    run_id: str | None = None
    categories: tuple[str, ...] = ()
    metadata: dict[str, Any] | None = None
    expiration_date: date | None = None


@dataclass(frozen=True, slots=True)
class And:
    """All of ``children`` (no children: true)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``children`` (no children: false)."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The exact complement of ``child``."""

    child: Node


@dataclass(frozen=True, slots=True)
class EntityCondition:
    """``user_id``/``agent_id``/``app_id``/``run_id``: eq and ne carry one value, in many, exists none."""

    field: str
    op: EntityOp
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DateCondition:
    """One comparison of a date field. ``value`` is a ``date`` (a whole UTC day) or an aware UTC
    ``datetime`` (an instant); for ``expiration_date`` it is always a ``date``."""

    field: str
    op: DateOp
    value: date

    @property
    def column(self) -> str:
        """The memory attribute (and ``memories`` column) compared: ``timestamp`` is ``created_at``."""
        return "created_at" if self.field == "timestamp" else self.field

    def comparisons(self) -> list[tuple[str, date]]:
        """The condition as ANDed ``column <symbol> value`` comparisons (shared by SQL and Python);
        the symbols are ``=``, ``>``, ``>=``, ``<``, ``<=``."""
        if self.field == "expiration_date" or isinstance(self.value, datetime):
            return [(_COMPARE_SYMBOL[self.op], self.value)]
        start = datetime.combine(self.value, time(), UTC)
        return _DAY_COMPARISONS[self.op](start, start + timedelta(days=1))


_COMPARE_SYMBOL: dict[str, str] = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_DAY_COMPARISONS: dict[str, Callable[[datetime, datetime], list[tuple[str, date]]]] = {
    "eq": lambda start, end: [(">=", start), ("<", end)],
    "gt": lambda start, end: [(">", start)],
    "gte": lambda start, end: [(">=", start)],
    "lt": lambda start, end: [("<", start)],
    "lte": lambda start, end: [("<", end)],
}


@dataclass(frozen=True, slots=True)
class CategoryCondition:
    """``in``: some category equals one of ``values``; ``contains``: some category contains ``values[0]``
    (both case-insensitive)."""

    op: CategoryOp
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetadataCondition:
    """A condition on one top-level metadata key."""

    key: str
    op: MetadataOp
    value: JsonValue = field(hash=False)


@dataclass(frozen=True, slots=True)
class TextCondition:
    """``keywords``/``text``/``keywords_search``: a substring of the memory text."""

    field: str
    op: TextOp
    value: str


@dataclass(frozen=True, slots=True)
class IdsCondition:
    """``memory_ids``: the memory's id is one of ``ids`` (canonical lowercase UUID strings)."""

    ids: tuple[str, ...]


Node: TypeAlias = (
    And
    | Or
    | Not
    | EntityCondition
    | DateCondition
    | CategoryCondition
    | MetadataCondition
    | TextCondition
    | IdsCondition
)


def fields_named(node: Node) -> Iterator[str]:
    """Every field a filter names (as written: ``timestamp`` stays ``timestamp``), once per condition."""
    match node:
        case And(children) | Or(children):
            for child in children:
                yield from fields_named(child)
        case Not(child):
            yield from fields_named(child)
        case EntityCondition(field=name) | DateCondition(field=name) | TextCondition(field=name):
            yield name
        case CategoryCondition():
            yield "categories"
        case MetadataCondition():
            yield "metadata"
        case IdsCondition():
            yield "memory_ids"
