"""The filter language compiled to SQL: the only place a ``mnemo.filters`` AST becomes a query condition.

``compile_filter`` turns a parsed filter into a ``psycopg.sql`` condition over the ``memories`` table with
positional ``%s`` placeholders and its parameters; values never appear in the SQL text. The condition
means exactly what ``mnemo.filters.evaluate`` decides in Python (the property tests hold the two to each
other on a real PostgreSQL). To keep every condition two-valued, SQL ``NULL`` only ever arises where
Python says ``False``, and ``NOT`` compiles to ``(...) IS NOT TRUE``, an exact complement.
"""

from __future__ import annotations

import json
from typing import TypeAlias, assert_never

from psycopg import sql

from mnemo.filters import (
    And,
    CategoryCondition,
    DateCondition,
    EntityCondition,
    IdsCondition,
    JsonValue,
    MetadataCondition,
    Node,
    Not,
    Or,
    TextCondition,
)

_Sql: TypeAlias = tuple[sql.Composable, list[object]]


def compile_filter(node: Node, *, alias: str = "m") -> _Sql:
    """A SQL condition over ``memories`` (aliased ``alias``) with positional ``%s`` placeholders, and
    the parameters in order. Values never appear in the SQL text."""
    match node:
        case And(children):
            return _join(children, alias, " AND ", empty="TRUE")
        case Or(children):
            return _join(children, alias, " OR ", empty="FALSE")
        case Not(child):
            inner, params = compile_filter(child, alias=alias)
            return sql.SQL("({}) IS NOT TRUE").format(inner), params
        case EntityCondition():
            return _entity(node, alias)
        case DateCondition():
            return _date(node, alias)
        case CategoryCondition():
            return _categories(node, alias)
        case MetadataCondition():
            return _metadata(node, sql.Identifier(alias, "metadata"))
        case TextCondition():
            like = "LIKE" if node.op == "contains" else "ILIKE"
            text = sql.SQL("{} " + like + " {} ESCAPE '\\'")
            return text.format(sql.Identifier(alias, "memory"), sql.Placeholder()), [_like_pattern(node.value)]
        case IdsCondition():
            column = sql.Identifier(alias, "id")
            return sql.SQL("{} = ANY({}::uuid[])").format(column, sql.Placeholder()), [list(node.ids)]
        case _:
            assert_never(node)


def _join(children: tuple[Node, ...], alias: str, glue: str, *, empty: str) -> _Sql:
    if not children:
        return sql.SQL(empty), []
    parts: list[sql.Composable] = []
    params: list[object] = []
    for child in children:
        text, child_params = compile_filter(child, alias=alias)
        parts.append(sql.SQL("({})").format(text))
        params.extend(child_params)
    return sql.SQL(glue).join(parts), params


def _like_pattern(value: str) -> str:
    """``%value%`` for LIKE/ILIKE with ``ESCAPE '\\'``, the value's own wildcards escaped."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ENTITY_SQL: dict[str, str] = {
    "eq": "{} = {}::text",
    "ne": "{} IS DISTINCT FROM {}::text",
    "in": "{} = ANY({}::text[])",
}


def _entity(node: EntityCondition, alias: str) -> _Sql:
    column = sql.Identifier(alias, node.field)
    if node.op == "exists":
        return sql.SQL("{} IS NOT NULL").format(column), []
    param: object = list(node.values) if node.op == "in" else node.values[0]
    return sql.SQL(_ENTITY_SQL[node.op]).format(column, sql.Placeholder()), [param]


def _date(node: DateCondition, alias: str) -> _Sql:
    column = sql.Identifier(alias, node.column)
    pairs = node.comparisons()
    parts = [sql.SQL("{} {} {}").format(column, sql.SQL(symbol), sql.Placeholder()) for symbol, _ in pairs]
    return sql.SQL(" AND ").join(parts), [value for _, value in pairs]


def _categories(node: CategoryCondition, alias: str) -> _Sql:
    column = sql.Identifier(alias, "categories")
    if node.op == "in":
        test = "lower(_filter_cat.v) = ANY({}::text[])"
        param: object = [value.lower() for value in node.values]
    else:
        test = "_filter_cat.v ILIKE {} ESCAPE '\\'"
        param = _like_pattern(node.values[0])
    template = sql.SQL("EXISTS (SELECT 1 FROM unnest({}) AS _filter_cat(v) WHERE " + test + ")")
    return template.format(column, sql.Placeholder()), [param]


def _metadata(node: MetadataCondition, column: sql.Identifier) -> _Sql:
    p = sql.Placeholder()
    match node.op:
        case "eq":
            text = "({} -> {}::text) = {}::jsonb"
            return sql.SQL(text).format(column, p, p), [node.key, json.dumps(node.value)]
        case "ne":
            text = "({} -> {}::text) IS DISTINCT FROM {}::jsonb"
            return sql.SQL(text).format(column, p, p), [node.key, json.dumps(node.value)]
        case "contains":
            return _metadata_contains(column, node.key, node.value)
        case _:
            assert_never(node.op)


def _metadata_contains(column: sql.Identifier, key: str, value: JsonValue) -> _Sql:
    """A list value has ``value`` as an element, or (for a string ``value``) a string value contains it,
    case-insensitively."""
    p = sql.Placeholder()
    element = sql.SQL("({} -> {}::text) @> {}::jsonb").format(column, p, p)
    element_params: list[object] = [key, json.dumps([value])]
    if not isinstance(value, str):
        return element, element_params
    text = "(jsonb_typeof({} -> {}::text) = 'string' AND ({} ->> {}::text) ILIKE {} ESCAPE '\\') OR {}"
    substring = sql.SQL(text).format(column, p, column, p, p, element)
    return substring, [key, key, _like_pattern(value), *element_params]
