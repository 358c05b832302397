"""``parse_filter``: a raw JSON filter (spec §5.1–5.2) validated into the AST of ``mnemo.filters.ast``,
and ``has_positive_scope``, the scope check the API applies to a parsed filter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from mnemo.filters.ast import (
    ALLOWED_KEYS,
    DATE_FIELDS,
    ENTITY_FIELDS,
    MAX_DEPTH,
    MAX_NODES,
    OPERATOR_WORDS,
    SQL_SYMBOLS,
    TEXT_FIELDS,
    And,
    CategoryCondition,
    DateCondition,
    DateOp,
    EntityCondition,
    FilterError,
    IdsCondition,
    MetadataCondition,
    Node,
    Not,
    Or,
    TextCondition,
    TextOp,
)
from mnemo.filters.values import (
    check_list,
    date_value,
    describe,
    entity_value,
    json_value,
    memory_id,
    metadata_scalar,
    storable,
    string,
    type_name,
)


def parse_filter(raw: object) -> Node:
    """Validate a filter (spec §5.1–5.2) into its AST; raise ``FilterError`` saying what is wrong."""
    return _parse_object(raw, _Context(), depth=1)


_POSITIVE_ENTITY_OPS: frozenset[str] = frozenset({"eq", "in", "exists"})


def has_positive_scope(node: Node) -> bool:
    """Whether every memory the filter matches is guaranteed a positive entity condition
    (eq / in / ``"*"`` on user_id, agent_id, app_id or run_id). ``NOT`` never counts."""
    if isinstance(node, And):
        return any(has_positive_scope(child) for child in node.children)
    if isinstance(node, Or):
        return bool(node.children) and all(has_positive_scope(child) for child in node.children)
    return isinstance(node, EntityCondition) and node.op in _POSITIVE_ENTITY_OPS


N = TypeVar("N", bound=Node)


@dataclass(slots=True)
class _Context:
    nodes: int = 0

    def add(self, node: N) -> N:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterError(f"Filter is too large: more than {MAX_NODES} conditions.")
        return node


def _all_of(nodes: list[Node], ctx: _Context) -> Node:
    return nodes[0] if len(nodes) == 1 else ctx.add(And(tuple(nodes)))


def _parse_object(raw: object, ctx: _Context, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise FilterError(f"Filter is nested too deeply: more than {MAX_DEPTH} levels.")
    if not isinstance(raw, dict):
        raise FilterError(f"A filter must be a JSON object, got {type_name(raw)}: {describe(raw)}.")
    if not raw:
        raise FilterError("A filter object must not be empty; name at least one field or AND/OR/NOT.")
    return _all_of([_parse_key(key, value, ctx, depth) for key, value in raw.items()], ctx)


def _parse_key(key: object, value: object, ctx: _Context, depth: int) -> Node:
    parser = _KEY_PARSERS.get(key) if isinstance(key, str) else None
    if parser is None:
        raise FilterError(
            f"Unknown filter key {describe(key)}. Top-level key must be a logical operator or an allowed "
            f"field: {', '.join(ALLOWED_KEYS)}."
        )
    return parser(str(key), value, ctx, depth)


def _parse_children(key: str, value: object, ctx: _Context, depth: int) -> tuple[Node, ...]:
    items = check_list(value, key)
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
        raise FilterError(f"NOT takes a filter object (or a list of them), got {type_name(value)}: {describe(value)}.")
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
    return f"Operator {describe(op)} is not allowed on {label}{hint}. Allowed operators: {allowed}."


# --- entity ids ---------------------------------------------------------------------------------


def _entity_in(fld: str, value: object, ctx: _Context) -> Node:
    items = check_list(value, f"{fld} 'in'")
    return ctx.add(EntityCondition(fld, "in", tuple(entity_value(fld, item) for item in items)))


_ENTITY_OPS: dict[str, _OpBuilder] = {
    "eq": lambda fld, value, ctx: ctx.add(EntityCondition(fld, "eq", (entity_value(fld, value),))),
    "ne": lambda fld, value, ctx: ctx.add(EntityCondition(fld, "ne", (entity_value(fld, value),))),
    "in": _entity_in,
}


def _parse_entity(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if isinstance(value, dict):
        return _parse_operators(fld, value, _ENTITY_OPS, ctx)
    if value == "*":
        return ctx.add(EntityCondition(fld, "exists", ()))
    if isinstance(value, list):
        raise FilterError(f"{fld} takes a single id; for several use {{{fld!r}: {{'in': [...]}}}}.")
    return ctx.add(EntityCondition(fld, "eq", (entity_value(fld, value),)))


# --- dates --------------------------------------------------------------------------------------


def _date_compare(op: DateOp) -> _OpBuilder:
    return lambda fld, value, ctx: ctx.add(DateCondition(fld, op, date_value(fld, value)))


def _date_ne(fld: str, value: object, ctx: _Context) -> Node:
    return ctx.add(Not(ctx.add(DateCondition(fld, "eq", date_value(fld, value)))))


def _date_in(fld: str, value: object, ctx: _Context) -> Node:
    items = check_list(value, f"{fld} 'in'")
    return ctx.add(Or(tuple(ctx.add(DateCondition(fld, "eq", date_value(fld, item))) for item in items)))


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
    return ctx.add(DateCondition(fld, "eq", date_value(fld, value)))


# --- categories ---------------------------------------------------------------------------------


def _categories_in(fld: str, value: object, ctx: _Context) -> Node:
    items = check_list(value, "categories 'in'")
    return ctx.add(CategoryCondition("in", tuple(string("categories 'in'", item) for item in items)))


_CATEGORY_OPS: dict[str, _OpBuilder] = {
    "in": _categories_in,
    "contains": lambda fld, value, ctx: ctx.add(
        CategoryCondition("contains", (string("categories 'contains'", value),))
    ),
}


def _parse_categories(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if not isinstance(value, dict):
        raise FilterError(
            f"categories takes an operator object such as {{'in': ['finance']}} or {{'contains': 'fin'}}, "
            f"got {type_name(value)}: {describe(value)}."
        )
    return _parse_operators(fld, value, _CATEGORY_OPS, ctx)


# --- metadata -----------------------------------------------------------------------------------

_METADATA_OPS: dict[str, _OpBuilder] = {
    "eq": lambda key, value, ctx: ctx.add(MetadataCondition(key, "eq", json_value(f"metadata.{key}", value))),
    "ne": lambda key, value, ctx: ctx.add(MetadataCondition(key, "ne", json_value(f"metadata.{key}", value))),
    "contains": lambda key, value, ctx: ctx.add(
        MetadataCondition(key, "contains", metadata_scalar(f"metadata.{key} 'contains'", value))
    ),
}
_METADATA_HINTS = {"*": " (only top-level metadata keys are supported; to match an object value use {'eq': {...}})"}


def _metadata_key(key: object) -> str:
    if not isinstance(key, str):
        raise FilterError(f"metadata keys must be strings, got {describe(key)}.")
    storable("metadata keys", key)
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
            f"metadata takes a non-empty object of metadata keys, e.g. {{'type': 'semantic'}}, got {describe(value)}."
        )
    nodes: list[Node] = []
    for raw_key, condition in value.items():
        key = _metadata_key(raw_key)
        if isinstance(condition, dict):
            label = f"metadata key {key!r}"
            nodes.append(_parse_operators(key, condition, _METADATA_OPS, ctx, label=label, hints=_METADATA_HINTS))
        else:
            nodes.append(ctx.add(MetadataCondition(key, "eq", json_value(f"metadata.{key}", condition))))
    return _all_of(nodes, ctx)


# --- text and ids -------------------------------------------------------------------------------


def _text_op(op: TextOp) -> _OpBuilder:
    return lambda fld, value, ctx: ctx.add(TextCondition(fld, op, string(f"{fld} {op!r}", value)))


_TEXT_OPS: dict[str, _OpBuilder] = {"contains": _text_op("contains"), "icontains": _text_op("icontains")}


def _parse_text(fld: str, value: object, ctx: _Context, depth: int) -> Node:
    if not isinstance(value, dict):
        raise FilterError(
            f"{fld} takes an operator object such as {{'contains': 'invoice'}} or "
            f"{{'icontains': 'invoice'}}, got {type_name(value)}: {describe(value)}."
        )
    return _parse_operators(fld, value, _TEXT_OPS, ctx)


def _ids_in(fld: str, value: object, ctx: _Context) -> Node:
    items = check_list(value, "memory_ids")
    return ctx.add(IdsCondition(tuple(memory_id(item) for item in items)))


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
