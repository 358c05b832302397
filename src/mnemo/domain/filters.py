"""The filters DSL of the Mem0 Platform (spec §5): parse, check scope, compile to SQL, evaluate in Python.

``parse_filter`` validates a raw JSON filter into an AST of frozen dataclasses; ``compile_filter`` turns
the AST into a parameterised ``psycopg.sql`` condition over the ``memories`` table; ``evaluate`` decides
the same condition for one memory in plain Python (the property tests hold the two to each other).

Semantics, where the spec leaves a choice:

* Every condition is two-valued. SQL ``NULL`` only ever arises where Python says ``False``, and ``NOT``
  compiles to ``(...) IS NOT TRUE``, so ``NOT`` is an exact complement (a missing value matches ``NOT``).
* Entity ids: ``ne`` also matches a missing id; ``"*"`` (bare value only) means "is set".
* Dates: a ``YYYY-MM-DD`` value is a UTC day, a datetime value an instant (naive = UTC). On the
  timestamp columns (``created_at``, ``updated_at``, and ``timestamp`` which is ``created_at``):
  equality with a day means "during that UTC day"; ``gt``/``gte``/``lt`` with a day compare to the
  day's start (00:00 UTC); ``lte`` with a day includes the whole day (``< next day 00:00``), so
  ``{"gte": a, "lte": b}`` is the inclusive range of days a..b. (Hence ``gt`` a day also matches the
  rest of that day and is not the complement of ``lte`` it; ``NOT`` + ``lte`` is "after that day".)
  ``expiration_date`` is a date column: a datetime value is reduced to its UTC date, and the
  comparisons are plain date comparisons. ``ne`` is ``NOT`` equality (so it matches a missing
  expiration date); ``in`` is any of the equalities.
* Categories: ``in`` is a case-insensitive overlap; ``contains`` means some category contains the
  substring, case-insensitively.
* Metadata (top-level keys only): equality is JSON equality (``1 == 1.0``, ``true != 1``); ``ne`` also
  matches a missing key or missing metadata; ``contains`` takes a scalar: a string value contains it as a
  substring (case-insensitively), or a list value has it as an element. A bare object value is read as
  operators; to match an object value write ``{"eq": {...}}``. Operator words (``in``, ``eq``, ...) are
  not accepted as metadata key names, so ``{"metadata": {"in": ...}}`` is an error, not a key lookup.
* ``keywords``, ``text``, ``keywords_search``: ``contains`` is a case-sensitive substring of the memory
  text, ``icontains`` a case-insensitive one (LIKE wildcards in the value are escaped).
* Empty lists given to ``in`` (or ``memory_ids``) match nothing. Empty objects are rejected.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypeAlias, TypeVar
from uuid import UUID

from psycopg import sql

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


_Sql: TypeAlias = tuple[sql.Composable, list[object]]


# --------------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def to_sql(self, alias: str) -> _Sql:
        return _join(self.children, alias, " AND ", empty="TRUE")

    def matches(self, memory: MemoryFacts) -> bool:
        return all(child.matches(memory) for child in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def to_sql(self, alias: str) -> _Sql:
        return _join(self.children, alias, " OR ", empty="FALSE")

    def matches(self, memory: MemoryFacts) -> bool:
        return any(child.matches(memory) for child in self.children)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def to_sql(self, alias: str) -> _Sql:
        inner, params = self.child.to_sql(alias)
        return sql.SQL("({}) IS NOT TRUE").format(inner), params

    def matches(self, memory: MemoryFacts) -> bool:
        return not self.child.matches(memory)


@dataclass(frozen=True, slots=True)
class EntityCondition:
    """``user_id``/``agent_id``/``app_id``/``run_id``: eq and ne carry one value, in many, exists none."""

    field: str
    op: EntityOp
    values: tuple[str, ...]

    def to_sql(self, alias: str) -> _Sql:
        column = sql.Identifier(alias, self.field)
        if self.op == "exists":
            return sql.SQL("{} IS NOT NULL").format(column), []
        template, param = _ENTITY_SQL[self.op], self._param()
        return sql.SQL(template).format(column, sql.Placeholder()), [param]

    def _param(self) -> object:
        return list(self.values) if self.op == "in" else self.values[0]

    def matches(self, memory: MemoryFacts) -> bool:
        return _ENTITY_MATCH[self.op](getattr(memory, self.field), self.values)


_ENTITY_SQL: dict[str, str] = {
    "eq": "{} = {}::text",
    "ne": "{} IS DISTINCT FROM {}::text",
    "in": "{} = ANY({}::text[])",
}
_ENTITY_MATCH: dict[str, Callable[[str | None, tuple[str, ...]], bool]] = {
    "eq": lambda actual, values: actual == values[0],
    "ne": lambda actual, values: actual != values[0],
    "in": lambda actual, values: actual in values,
    "exists": lambda actual, values: actual is not None,
}


@dataclass(frozen=True, slots=True)
class DateCondition:
    """One comparison of a date field. ``value`` is a ``date`` (a whole UTC day) or an aware UTC
    ``datetime`` (an instant); for ``expiration_date`` it is always a ``date``."""

    field: str
    op: DateOp
    value: date

    @property
    def column(self) -> str:
        return "created_at" if self.field == "timestamp" else self.field

    def comparisons(self) -> list[tuple[str, date]]:
        """The condition as ANDed ``column <symbol> value`` comparisons (shared by SQL and Python)."""
        if self.field == "expiration_date" or isinstance(self.value, datetime):
            return [(_COMPARE_SYMBOL[self.op], self.value)]
        start = datetime.combine(self.value, time(), UTC)
        return _DAY_COMPARISONS[self.op](start, start + timedelta(days=1))

    def to_sql(self, alias: str) -> _Sql:
        column = sql.Identifier(alias, self.column)
        pairs = self.comparisons()
        parts = [sql.SQL("{} {} {}").format(column, sql.SQL(sym), sql.Placeholder()) for sym, _ in pairs]
        return sql.SQL(" AND ").join(parts), [value for _, value in pairs]

    def matches(self, memory: MemoryFacts) -> bool:
        actual = getattr(memory, self.column)
        if actual is None:
            return False
        return all(_PY_COMPARE[sym](actual, value) for sym, value in self.comparisons())


_COMPARE_SYMBOL: dict[str, str] = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_DAY_COMPARISONS: dict[str, Callable[[datetime, datetime], list[tuple[str, date]]]] = {
    "eq": lambda start, end: [(">=", start), ("<", end)],
    "gt": lambda start, end: [(">", start)],
    "gte": lambda start, end: [(">=", start)],
    "lt": lambda start, end: [("<", start)],
    "lte": lambda start, end: [("<", end)],
}
_PY_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True, slots=True)
class CategoryCondition:
    """``in``: some category equals one of ``values``; ``contains``: some category contains ``values[0]``
    (both case-insensitive)."""

    op: CategoryOp
    values: tuple[str, ...]

    def to_sql(self, alias: str) -> _Sql:
        column = sql.Identifier(alias, "categories")
        if self.op == "in":
            test = "lower(_filter_cat.v) = ANY({}::text[])"
            param: object = [value.lower() for value in self.values]
        else:
            test = "_filter_cat.v ILIKE {} ESCAPE '\\'"
            param = _like_pattern(self.values[0])
        template = sql.SQL("EXISTS (SELECT 1 FROM unnest({}) AS _filter_cat(v) WHERE " + test + ")")
        return template.format(column, sql.Placeholder()), [param]

    def matches(self, memory: MemoryFacts) -> bool:
        wanted = [value.lower() for value in self.values]
        if self.op == "in":
            return any(category.lower() in wanted for category in memory.categories)
        return any(wanted[0] in category.lower() for category in memory.categories)


@dataclass(frozen=True, slots=True)
class MetadataCondition:
    """A condition on one top-level metadata key."""

    key: str
    op: MetadataOp
    value: JsonValue = field(hash=False)

    def to_sql(self, alias: str) -> _Sql:
        return _METADATA_SQL[self.op](sql.Identifier(alias, "metadata"), self.key, self.value)

    def matches(self, memory: MemoryFacts) -> bool:
        metadata = memory.metadata or {}
        return _METADATA_MATCH[self.op](self.key in metadata, metadata.get(self.key), self.value)


def _metadata_eq_sql(column: sql.Identifier, key: str, value: JsonValue) -> _Sql:
    text = "({} -> {}::text) = {}::jsonb"
    return sql.SQL(text).format(column, sql.Placeholder(), sql.Placeholder()), [key, json.dumps(value)]


def _metadata_ne_sql(column: sql.Identifier, key: str, value: JsonValue) -> _Sql:
    text = "({} -> {}::text) IS DISTINCT FROM {}::jsonb"
    return sql.SQL(text).format(column, sql.Placeholder(), sql.Placeholder()), [key, json.dumps(value)]


def _metadata_contains_sql(column: sql.Identifier, key: str, value: JsonValue) -> _Sql:
    p = sql.Placeholder()
    element: _Sql = (
        sql.SQL("({} -> {}::text) @> {}::jsonb").format(column, p, p),
        [key, json.dumps([value])],
    )
    if not isinstance(value, str):
        return element
    text = "(jsonb_typeof({} -> {}::text) = 'string' AND ({} ->> {}::text) ILIKE {} ESCAPE '\\') OR {}"
    substring = sql.SQL(text).format(column, p, column, p, p, element[0])
    return substring, [key, key, _like_pattern(value), *element[1]]


def _metadata_contains(present: bool, actual: JsonValue, value: JsonValue) -> bool:
    if isinstance(actual, str) and isinstance(value, str):
        return value.lower() in actual.lower()
    return isinstance(actual, list) and any(json_equal(item, value) for item in actual)


_METADATA_SQL: dict[str, Callable[[sql.Identifier, str, JsonValue], _Sql]] = {
    "eq": _metadata_eq_sql,
    "ne": _metadata_ne_sql,
    "contains": _metadata_contains_sql,
}
_METADATA_MATCH: dict[str, Callable[[bool, JsonValue, JsonValue], bool]] = {
    "eq": lambda present, actual, value: present and json_equal(actual, value),
    "ne": lambda present, actual, value: not (present and json_equal(actual, value)),
    "contains": _metadata_contains,
}


@dataclass(frozen=True, slots=True)
class TextCondition:
    """``keywords``/``text``/``keywords_search``: a substring of the memory text."""

    field: str
    op: TextOp
    value: str

    def to_sql(self, alias: str) -> _Sql:
        like = "LIKE" if self.op == "contains" else "ILIKE"
        text = sql.SQL("{} " + like + " {} ESCAPE '\\'")
        return text.format(sql.Identifier(alias, "memory"), sql.Placeholder()), [_like_pattern(self.value)]

    def matches(self, memory: MemoryFacts) -> bool:
        if self.op == "contains":
            return self.value in memory.memory
        return self.value.lower() in memory.memory.lower()


@dataclass(frozen=True, slots=True)
class IdsCondition:
    """``memory_ids``: the memory's id is one of ``ids`` (canonical lowercase UUID strings)."""

    ids: tuple[str, ...]

    def to_sql(self, alias: str) -> _Sql:
        return sql.SQL("{} = ANY({}::uuid[])").format(sql.Identifier(alias, "id"), sql.Placeholder()), [list(self.ids)]

    def matches(self, memory: MemoryFacts) -> bool:
        return str(UUID(memory.id)) in self.ids


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


def _join(children: tuple[Node, ...], alias: str, glue: str, *, empty: str) -> _Sql:
    if not children:
        return sql.SQL(empty), []
    parts: list[sql.Composable] = []
    params: list[object] = []
    for child in children:
        text, child_params = child.to_sql(alias)
        parts.append(sql.SQL("({})").format(text))
        params.extend(child_params)
    return sql.SQL(glue).join(parts), params


def _like_pattern(value: str) -> str:
    """``%value%`` for LIKE/ILIKE with ``ESCAPE '\\'``, the value's own wildcards escaped."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def json_equal(left: JsonValue, right: JsonValue) -> bool:
    """JSON (jsonb) equality: numbers compare by value, booleans are not numbers, objects ignore order."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


# --------------------------------------------------------------------------------------------------
# Public operations
# --------------------------------------------------------------------------------------------------


def compile_filter(node: Node, *, alias: str = "m") -> _Sql:
    """A SQL condition over ``memories`` (aliased ``alias``) with positional ``%s`` placeholders, and
    the parameters in order. Values never appear in the SQL text."""
    return node.to_sql(alias)


def evaluate(node: Node, memory: MemoryFacts) -> bool:
    """Whether ``memory`` matches ``node``, with exactly the semantics of ``compile_filter``."""
    return node.matches(memory)


_POSITIVE_ENTITY_OPS: frozenset[str] = frozenset({"eq", "in", "exists"})


def has_positive_scope(node: Node) -> bool:
    """Whether every memory the filter matches is guaranteed a positive entity condition
    (eq / in / ``"*"`` on user_id, agent_id, app_id or run_id). ``NOT`` never counts."""
    if isinstance(node, And):
        return any(has_positive_scope(child) for child in node.children)
    if isinstance(node, Or):
        return bool(node.children) and all(has_positive_scope(child) for child in node.children)
    return isinstance(node, EntityCondition) and node.op in _POSITIVE_ENTITY_OPS


def parse_filter(raw: object) -> Node:
    """Validate a filter (spec §5.1–5.2) into its AST; raise ``FilterError`` saying what is wrong."""
    return _parse_object(raw, _Context(), depth=1)


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------

N = TypeVar("N", bound=Node)


@dataclass(slots=True)
class _Context:
    nodes: int = 0

    def add(self, node: N) -> N:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(f"Filter is too large: more than {MAX_NODES} conditions.")
        return node


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return names.get(type(value), type(value).__name__)


def _storable(where: str, text: str) -> str:
    """``text``, if PostgreSQL can store it: no NUL character, no lone surrogate."""
    if "\x00" in text:
        raise FilterError(f"{where}: strings must not contain the NUL character (\\u0000).")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(f"{where}: strings must be valid Unicode (no lone surrogates).") from None
    return text


def _all_of(nodes: list[Node], ctx: _Context) -> Node:
    return nodes[0] if len(nodes) == 1 else ctx.add(And(tuple(nodes)))


def _check_list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise FilterError(f"{where} takes a list, got {_type_name(value)}: {_describe(value)}.")
    if len(value) > MAX_LIST_ITEMS:
        raise FilterError(f"{where} has {len(value)} items; at most {MAX_LIST_ITEMS} are allowed.")
    return value


def _parse_object(raw: object, ctx: _Context, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise FilterError(f"Filter is nested too deeply: more than {MAX_DEPTH} levels.")
    if not isinstance(raw, dict):
        raise FilterError(f"A filter must be a JSON object, got {_type_name(raw)}: {_describe(raw)}.")
    if not raw:
        raise FilterError("A filter object must not be empty; name at least one field or AND/OR/NOT.")
    return _all_of([_parse_key(key, value, ctx, depth) for key, value in raw.items()], ctx)


def _parse_key(key: object, value: object, ctx: _Context, depth: int) -> Node:
    parser = _KEY_PARSERS.get(key) if isinstance(key, str) else None
    if parser is None:
        raise FilterError(
            f"Unknown filter key {_describe(key)}. Top-level key must be a logical operator or an allowed "
            f"field: {', '.join(ALLOWED_KEYS)}."
        )
    return parser(str(key), value, ctx, depth)


def _parse_children(key: str, value: object, ctx: _Context, depth: int) -> tuple[Node, ...]:
    items = _check_list(value, key)
    if not items:
        raise FilterError(f"{key} takes a non-empty list of filter objects, got an empty list.")
    return tuple(_parse_object(item, ctx, depth + 1) for item in items)


def _parse_and(key: str, value: object, ctx: _Context, depth: int) -> Node:
    return ctx.add(And(_parse_children(key, value, ctx, depth)))


def _parse_or(key: str, value: object, ctx: _Context, depth: int) -> Node:
    return ctx.add(Or(_parse_children(key, value, ctx, depth)))


def _parse_not(key: str, value: object, ctx: _Context, depth: int) -> Node:
    if isinstance(value, list):  # OSS style: NOT [a, b] = NOT (a OR b)
        return ctx.add(Not(ctx.add(Or(_parse_children(key, value, ctx, depth)))))
    if not isinstance(value, dict):
        raise FilterError(
            f"NOT takes a filter object (or a list of them), got {_type_name(value)}: {_describe(value)}."
        )
    return ctx.add(Not(_parse_object(value, ctx, depth + 1)))


# An operator table maps each allowed operator of a field kind to a builder of nodes.
_OpBuilder: TypeAlias = Callable[[str, object, _Context], Node]


def _parse_operators(
    name: str,
    value: dict[Any, Any],
    table: Mapping[str, _OpBuilder],
    ctx: _Context,
    *,
    label: str = "",
    hints: Mapping[str, str] | None = None,
) -> Node:
    """Each ``{op: operand}`` of ``value`` through ``table``; several operators are ANDed."""
    label = label or repr(name)
    if not value:
        raise FilterError(f"Empty operator object for {label}; use one of: {', '.join(table)}.")
    nodes: list[Node] = []
    for op, operand in value.items():
        builder = table.get(op) if isinstance(op, str) else None
        if builder is None:
            raise FilterError(_bad_operator(label, op, table, hints or {}))
        nodes.append(builder(name, operand, ctx))
    return _all_of(nodes, ctx)


def _bad_operator(label: str, op: object, table: Mapping[str, _OpBuilder], hints: Mapping[str, str]) -> str:
    """The message for a rejected operator; ``hints`` maps an operator word, or "*" for any other key,
    to an explanation."""
    allowed = ", ".join(table)
    hint = hints.get(op if isinstance(op, str) and op in OPERATOR_WORDS else "*", "")
    if op in SQL_SYMBOLS:
        return (
            f"SQL-style operator {op!r} is not supported on {label}; operators are lowercase words. "
            f"Allowed operators: {allowed}."
        )
    return f"Operator {_describe(op)} is not allowed on {label}{hint}. Allowed operators: {allowed}."


# --- entity ids ---------------------------------------------------------------------------------


def _entity_value(fld: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise FilterError(f"{fld} must be a non-empty string, got {_type_name(value)}: {_describe(value)}.")
    return _storable(fld, value)


def _entity_in(fld: str, value: object, ctx: _Context) -> Node:
    items = _check_list(value, f"{fld} 'in'")
    return ctx.add(EntityCondition(fld, "in", tuple(_entity_value(fld, item) for item in items)))


_ENTITY_OPS: dict[str, _OpBuilder] = {
    "eq": lambda fld, value, ctx: ctx.add(EntityCondition(fld, "eq", (_entity_value(fld, value),))),
    "ne": lambda fld, value, ctx: ctx.add(EntityCondition(fld, "ne", (_entity_value(fld, value),))),
    "in": _entity_in,
}


def _parse_entity(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if isinstance(value, dict):
        return _parse_operators(fld, value, _ENTITY_OPS, ctx)
    if value == "*":
        return ctx.add(EntityCondition(fld, "exists", ()))
    if isinstance(value, list):
        raise FilterError(f"{fld} takes a single id; for several use {{{fld!r}: {{'in': [...]}}}}.")
    return ctx.add(EntityCondition(fld, "eq", (_entity_value(fld, value),)))


# --- dates --------------------------------------------------------------------------------------

_DAY_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", re.DOTALL)


def _date_value(fld: str, value: object) -> date:
    """A ``date`` for a YYYY-MM-DD value, an aware UTC ``datetime`` for a datetime value (naive = UTC);
    for ``expiration_date`` always a ``date`` (a datetime's UTC date)."""
    if not isinstance(value, str):
        raise FilterError(
            f"{fld} takes a date 'YYYY-MM-DD' or an ISO 8601 datetime, got {_type_name(value)}: {_describe(value)}."
        )
    try:
        parsed = _parse_date_text(value)
    except (ValueError, OverflowError) as exc:
        raise FilterError(f"Invalid date {value!r} for {fld}: {exc}.") from None
    if fld == "expiration_date" and isinstance(parsed, datetime):
        return parsed.date()
    return parsed


def _parse_date_text(value: str) -> date:
    if _DAY_FORMAT.fullmatch(value):
        day = date.fromisoformat(value)
        if day.year > 9998:
            raise ValueError("year must be at most 9998")
        return day
    if not _DATETIME_FORMAT.fullmatch(value):
        raise ValueError("expected 'YYYY-MM-DD' or an ISO 8601 datetime such as '2024-07-01T12:00:00Z'")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _date_compare(op: DateOp) -> _OpBuilder:
    return lambda fld, value, ctx: ctx.add(DateCondition(fld, op, _date_value(fld, value)))


def _date_ne(fld: str, value: object, ctx: _Context) -> Node:
    return ctx.add(Not(ctx.add(DateCondition(fld, "eq", _date_value(fld, value)))))


def _date_in(fld: str, value: object, ctx: _Context) -> Node:
    items = _check_list(value, f"{fld} 'in'")
    return ctx.add(Or(tuple(ctx.add(DateCondition(fld, "eq", _date_value(fld, item))) for item in items)))


_DATE_OPS: dict[str, _OpBuilder] = {
    "gt": _date_compare("gt"),
    "gte": _date_compare("gte"),
    "lt": _date_compare("lt"),
    "lte": _date_compare("lte"),
    "ne": _date_ne,
    "in": _date_in,
}
_DATE_HINT = " (for equality give the date itself, e.g. {'FIELD': '2024-07-01'})"


def _parse_date(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if isinstance(value, dict):
        return _parse_operators(fld, value, _DATE_OPS, ctx, hints={"eq": _DATE_HINT.replace("FIELD", fld)})
    return ctx.add(DateCondition(fld, "eq", _date_value(fld, value)))


# --- categories ---------------------------------------------------------------------------------


def _string(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise FilterError(f"{where} takes a string, got {_type_name(value)}: {_describe(value)}.")
    return _storable(where, value)


def _categories_in(fld: str, value: object, ctx: _Context) -> Node:
    items = _check_list(value, "categories 'in'")
    return ctx.add(CategoryCondition("in", tuple(_string("categories 'in'", item) for item in items)))


_CATEGORY_OPS: dict[str, _OpBuilder] = {
    "in": _categories_in,
    "contains": lambda fld, value, ctx: ctx.add(
        CategoryCondition("contains", (_string("categories 'contains'", value),))
    ),
}


def _parse_categories(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if not isinstance(value, dict):
        raise FilterError(
            f"categories takes an operator object such as {{'in': ['finance']}} or {{'contains': 'fin'}}, "
            f"got {_type_name(value)}: {_describe(value)}."
        )
    return _parse_operators(fld, value, _CATEGORY_OPS, ctx)


# --- metadata -----------------------------------------------------------------------------------


def _json_value(where: str, value: object, depth: int = 0) -> JsonValue:
    """Check that ``value`` is plain, finite, reasonably sized JSON; return it unchanged."""
    if depth > MAX_DEPTH:
        raise FilterError(f"{where}: value is nested too deeply (more than {MAX_DEPTH} levels).")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f"{where}: numbers must be finite, got {value!r}.")
    if isinstance(value, str):
        _storable(where, value)
    elif isinstance(value, list):
        for item in _check_list(value, where):
            _json_value(where, item, depth + 1)
    elif isinstance(value, dict):
        if len(value) > MAX_LIST_ITEMS:
            raise FilterError(f"{where}: an object has {len(value)} keys; at most {MAX_LIST_ITEMS} are allowed.")
        for key, item in value.items():
            if not isinstance(key, str):
                raise FilterError(f"{where}: object keys must be strings, got {_describe(key)}.")
            _storable(where, key)
            _json_value(where, item, depth + 1)
    elif value is not None and not isinstance(value, int | float):
        raise FilterError(f"{where}: not a JSON value: {_describe(value)}.")
    return value


def _metadata_scalar(where: str, value: object) -> JsonValue:
    if isinstance(value, list | dict):
        raise FilterError(
            f"{where} takes a string (substring match) or a single list element, got {_type_name(value)}."
        )
    return _json_value(where, value)


_METADATA_OPS: dict[str, _OpBuilder] = {
    "eq": lambda key, value, ctx: ctx.add(MetadataCondition(key, "eq", _json_value(f"metadata.{key}", value))),
    "ne": lambda key, value, ctx: ctx.add(MetadataCondition(key, "ne", _json_value(f"metadata.{key}", value))),
    "contains": lambda key, value, ctx: ctx.add(
        MetadataCondition(key, "contains", _metadata_scalar(f"metadata.{key} 'contains'", value))
    ),
}
_METADATA_HINTS = {"*": " (only top-level metadata keys are supported; to match an object value use {'eq': {...}})"}


def _metadata_key(key: object) -> str:
    if not isinstance(key, str):
        raise FilterError(f"metadata keys must be strings, got {_describe(key)}.")
    _storable("metadata keys", key)
    if key in OPERATOR_WORDS or key in SQL_SYMBOLS:
        raise FilterError(
            f"Operator {key!r} is not allowed directly under metadata: name a metadata key, e.g. "
            f"{{'metadata': {{'type': 'semantic'}}}} or {{'metadata': {{'type': {{'ne': 'episodic'}}}}}}. "
            f"Per key, the allowed operators are: {', '.join(_METADATA_OPS)}."
        )
    return key


def _parse_metadata(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if not isinstance(value, dict) or not value:
        raise FilterError(
            f"metadata takes a non-empty object of metadata keys, e.g. {{'type': 'semantic'}}, got {_describe(value)}."
        )
    nodes: list[Node] = []
    for raw_key, condition in value.items():
        key = _metadata_key(raw_key)
        if isinstance(condition, dict):
            label = f"metadata key {key!r}"
            nodes.append(_parse_operators(key, condition, _METADATA_OPS, ctx, label=label, hints=_METADATA_HINTS))
        else:
            nodes.append(ctx.add(MetadataCondition(key, "eq", _json_value(f"metadata.{key}", condition))))
    return _all_of(nodes, ctx)


# --- text and ids -------------------------------------------------------------------------------


def _text_op(op: TextOp) -> _OpBuilder:
    return lambda fld, value, ctx: ctx.add(TextCondition(fld, op, _string(f"{fld} {op!r}", value)))


_TEXT_OPS: dict[str, _OpBuilder] = {"contains": _text_op("contains"), "icontains": _text_op("icontains")}


def _parse_text(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if not isinstance(value, dict):
        raise FilterError(
            f"{fld} takes an operator object such as {{'contains': 'invoice'}} or "
            f"{{'icontains': 'invoice'}}, got {_type_name(value)}: {_describe(value)}."
        )
    return _parse_operators(fld, value, _TEXT_OPS, ctx)


def _memory_id(value: object) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(UUID(value))
    except ValueError:
        raise FilterError(f"memory_ids must be UUID strings, got {_describe(value)}.") from None


def _ids_in(fld: str, value: object, ctx: _Context) -> Node:
    items: Sequence[object] = _check_list(value, "memory_ids")
    return ctx.add(IdsCondition(tuple(_memory_id(item) for item in items)))


_IDS_OPS: dict[str, _OpBuilder] = {"in": _ids_in}


def _parse_ids(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if isinstance(value, dict):
        return _parse_operators(fld, value, _IDS_OPS, ctx)
    return _ids_in(fld, value, ctx)


_KeyParser: TypeAlias = Callable[[str, object, _Context, int], Node]

_KEY_PARSERS: dict[object, _KeyParser] = {
    "AND": _parse_and,
    "OR": _parse_or,
    "NOT": _parse_not,
    **dict.fromkeys(ENTITY_FIELDS, _parse_entity),
    **dict.fromkeys(DATE_FIELDS, _parse_date),
    **dict.fromkeys(TEXT_FIELDS, _parse_text),
    "categories": _parse_categories,
    "metadata": _parse_metadata,
    "memory_ids": _parse_ids,
}
