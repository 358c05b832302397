"""Which memories a request selects: its ``filters`` plus the top-level shortcuts, as a filter tree."""

from __future__ import annotations

from datetime import date
from typing import Any

from mnemo.domain.memories import Scope
from mnemo.errors import BadRequest
from mnemo.filters import And, EntityCondition, FilterError, Node, has_positive_scope, parse_filter


def selection_filter(
    filters: dict[str, Any] | None,
    *,
    scope: Scope | None = None,
    categories: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    keywords: str | None = None,
) -> dict[str, Any]:
    """One filter (spec §5) combining ``filters`` with the request's top-level shortcuts.

    Top-level entity ids (``scope``, which the hosted API refuses) are accepted and ANDed in.
    """
    parts: list[dict[str, Any]] = [filters] if filters else []
    if scope is not None:
        parts.extend({name: value} for name, value in scope.as_dict().items() if value is not None)
    if categories:
        parts.append({"categories": {"in": categories}})
    if metadata:
        parts.append({"metadata": metadata})
    if start_date:
        parts.append({"created_at": {"gte": start_date.isoformat()}})
    if end_date:
        parts.append({"created_at": {"lte": end_date.isoformat()}})
    if keywords:
        parts.append({"keywords": {"icontains": keywords}})
    if not parts:
        raise BadRequest(
            "filters is required and must name at least one of user_id, agent_id, app_id or run_id,"
            ' e.g. {"filters": {"user_id": "alice"}}; use "*" to mean any.'
        )
    return parts[0] if len(parts) == 1 else {"AND": parts}


def parse_selection(raw: dict[str, Any], *, require_scope: bool = True) -> Node:
    """Validate a filter; 400 if it is invalid or (with ``require_scope``) selects no entity."""
    try:
        node = parse_filter(raw)
    except FilterError as exc:
        raise BadRequest(str(exc)) from None
    if require_scope and not has_positive_scope(node):
        raise BadRequest(
            "filters must scope the request to an entity: user_id, agent_id, app_id or run_id"
            ' (an exact id, {"in": [...]}, or "*" for any); negative conditions alone do not count.'
        )
    return node


def within_scope(scope: Scope) -> Node:
    """The memories whose entity ids include every id ``scope`` sets (ids it leaves unset are free)."""
    conditions = tuple(EntityCondition(name, "eq", (value,)) for name, value in scope.as_dict().items() if value)
    return conditions[0] if len(conditions) == 1 else And(conditions)
