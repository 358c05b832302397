"""What the dashboard's forms send to the API, built from what the person typed. Pure functions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ENTITY_KINDS = ("user", "agent", "app", "run")


class FormError(ValueError):
    """Input the dashboard cannot turn into a request (the API is not called)."""


def json_object(text: str, name: str) -> dict[str, Any] | None:
    """A JSON object typed in a text area; empty means None."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormError(f"{name} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}).") from None
    if not isinstance(value, dict):
        raise FormError(f"{name} must be a JSON object ({{...}}).")
    return value


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def categories_text(categories: list[Any] | None) -> str:
    """The project's categories, one ``name: description`` a line."""
    lines = []
    for item in categories or []:
        if isinstance(item, dict):
            lines += [f"{name}: {description}" if description else str(name) for name, description in item.items()]
        else:
            lines.append(str(item))
    return "\n".join(lines)


def categories_from_text(text: str) -> list[dict[str, str]]:
    categories = []
    for line in text.splitlines():
        name, _, description = line.partition(":")
        if name.strip():
            categories.append({name.strip(): description.strip()})
    return categories


def search_request(params: Mapping[str, str]) -> dict[str, Any] | None:
    """The body of ``POST /v3/memories/search/`` from the playground's fields; None before a query is typed."""
    query = params.get("query", "").strip()
    if not query:
        return None
    ids = {f"{kind}_id": params.get(f"{kind}_id", "").strip() for kind in ENTITY_KINDS}
    scope = {name: value for name, value in ids.items() if value}
    extra = json_object(params.get("filters", ""), "Filters")
    parts = [part for part in (scope, extra) if part]
    body: dict[str, Any] = {"query": query, "filters": parts[0] if len(parts) == 1 else {"AND": parts} if parts else {}}
    body["top_k"] = _number(params.get("top_k", ""), "top_k", int, 10)
    body["threshold"] = _number(params.get("threshold", ""), "threshold", float, 0.1)
    for flag in ("rerank", "latest_only", "show_expired"):
        if params.get(flag):
            body[flag] = True
    return body


def _number(raw: str, name: str, kind: type[int] | type[float], default: float) -> Any:
    if not raw.strip():
        return default
    try:
        return kind(raw)
    except ValueError:
        raise FormError(f"{name} must be a number; got {raw!r}.") from None


def memory_changes(memory: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``PUT /v1/memories/{id}/``: only what the form changed (empty: nothing to send)."""
    changes: dict[str, Any] = {}
    text = form.get("text", "").strip()
    if "text" in form and text != memory.get("memory"):
        changes["text"] = text
    if "metadata" in form:
        metadata = json_object(form["metadata"], "Metadata")
        if metadata != (memory.get("metadata") or None):
            changes["metadata"] = metadata
    if "expiration_date" in form:
        expiry = form["expiration_date"].strip() or None
        current = memory.get("expiration_date")
        if expiry != (current[:10] if current else None):
            changes["expiration_date"] = expiry
    return changes


_PROJECT_TEXTS = ("custom_instructions", "agent_custom_instructions")


def project_changes(project: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The body of the project's ``PATCH``: only what the form changed (empty: nothing to send)."""
    changes: dict[str, Any] = {}
    for name in _PROJECT_TEXTS:
        if name in form:
            value = form[name].strip() or None
            if value != (project.get(name) or None):
                changes[name] = value
    if form.get("reset_categories"):
        changes["custom_categories"] = None
    elif "custom_categories" in form:
        typed = categories_from_text(form["custom_categories"])
        if typed != categories_from_text(categories_text(project.get("custom_categories"))):
            if not typed:
                raise FormError("Categories: name at least one, or tick 'Back to the default categories'.")
            changes["custom_categories"] = typed
    if "llm_profile" in form:
        changes.update(_llm_change(project.get("llm") or {}, form["llm_profile"].strip(), form.get("llm_model", "")))
    return changes


def _llm_change(current: Mapping[str, Any], profile: str, model: str) -> dict[str, Any]:
    """``{"llm": ...}`` when another profile is named, or a model typed (the field is left empty to keep the
    profile's own model); ``null`` for the deployment's default profile without a model."""
    profile = profile or "default"
    if profile == (current.get("profile") or "default") and not model.strip():
        return {}
    if profile == "default" and not model.strip():
        return {"llm": None}
    return {"llm": {"profile": profile, "model": model.strip() or None}}
