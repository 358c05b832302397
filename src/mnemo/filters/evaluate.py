"""``evaluate``: whether one memory matches a filter, decided in plain Python.

Storage compiles the same AST to SQL (``mnemo.storage.filter_sql``); the two must agree on every filter
and memory, and the property tests hold them to each other on a real PostgreSQL."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, assert_never
from uuid import UUID

from mnemo.filters.ast import (
    And,
    CategoryCondition,
    DateCondition,
    EntityCondition,
    IdsCondition,
    JsonValue,
    MemoryFacts,
    MetadataCondition,
    Node,
    Not,
    Or,
    TextCondition,
)


def evaluate(node: Node, memory: MemoryFacts) -> bool:
    """Whether ``memory`` matches ``node``, with exactly the semantics of the SQL storage compiles."""
    match node:
        case And(children):
            return all(evaluate(child, memory) for child in children)
        case Or(children):
            return any(evaluate(child, memory) for child in children)
        case Not(child):
            return not evaluate(child, memory)
        case EntityCondition():
            return _entity(node, memory)
        case DateCondition():
            return _date(node, memory)
        case CategoryCondition():
            return _categories(node, memory)
        case MetadataCondition():
            return _metadata(node, memory)
        case TextCondition():
            return _text(node, memory)
        case IdsCondition():
            return str(UUID(memory.id)) in node.ids
        case _:
            assert_never(node)


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


def _entity(node: EntityCondition, memory: MemoryFacts) -> bool:
    actual: str | None = getattr(memory, node.field)
    match node.op:
        case "eq":
            return actual == node.values[0]
        case "ne":
            return actual != node.values[0]
        case "in":
            return actual in node.values
        case "exists":
            return actual is not None
        case _:
            assert_never(node.op)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _date(node: DateCondition, memory: MemoryFacts) -> bool:
    actual = getattr(memory, node.column)
    if actual is None:
        return False
    return all(_COMPARE[symbol](actual, value) for symbol, value in node.comparisons())


def _categories(node: CategoryCondition, memory: MemoryFacts) -> bool:
    wanted = [value.lower() for value in node.values]
    if node.op == "in":
        return any(category.lower() in wanted for category in memory.categories)
    return any(wanted[0] in category.lower() for category in memory.categories)


def _metadata(node: MetadataCondition, memory: MemoryFacts) -> bool:
    metadata = memory.metadata or {}
    present, actual = node.key in metadata, metadata.get(node.key)
    match node.op:
        case "eq":
            return present and json_equal(actual, node.value)
        case "ne":
            return not (present and json_equal(actual, node.value))
        case "contains":
            if isinstance(actual, str) and isinstance(node.value, str):
                return node.value.lower() in actual.lower()
            return isinstance(actual, list) and any(json_equal(item, node.value) for item in actual)
        case _:
            assert_never(node.op)


def _text(node: TextCondition, memory: MemoryFacts) -> bool:
    if node.op == "contains":
        return node.value in memory.memory
    return node.value.lower() in memory.memory.lower()
