"""What the dashboard's forms send: only what changed, in the API's own shapes (no browser needed)."""

from __future__ import annotations

from typing import Any

import pytest

from mnemo.ui.forms import (
    FormError,
    categories_from_text,
    categories_text,
    memory_changes,
    project_changes,
    search_request,
)


def test_search_request_ands_the_entity_with_extra_filters() -> None:
    assert search_request({"query": "  "}) is None
    body = search_request({"query": "where", "user_id": "alice", "top_k": "5", "rerank": "1"})
    assert body == {"query": "where", "filters": {"user_id": "alice"}, "top_k": 5, "threshold": 0.1, "rerank": True}
    body = search_request({"query": "q", "agent_id": "bot", "filters": '{"categories": {"in": ["food"]}}'})
    assert body is not None
    assert body["filters"] == {"AND": [{"agent_id": "bot"}, {"categories": {"in": ["food"]}}]}
    with pytest.raises(FormError, match="not valid JSON"):
        search_request({"query": "q", "filters": "{user_id"})
    with pytest.raises(FormError, match="top_k must be a number"):
        search_request({"query": "q", "top_k": "many"})


def test_memory_changes_sends_only_what_changed() -> None:
    memory = {"memory": "I live in Lisbon.", "metadata": {"a": 1}, "expiration_date": "2030-01-01T00:00:00+00:00"}
    same = {"text": "I live in Lisbon.", "metadata": '{"a": 1}', "expiration_date": "2030-01-01"}
    assert memory_changes(memory, same) == {}
    assert memory_changes(memory, {**same, "text": "I live in Porto."}) == {"text": "I live in Porto."}
    assert memory_changes(memory, {**same, "metadata": "", "expiration_date": ""}) == {
        "metadata": None,
        "expiration_date": None,
    }
    with pytest.raises(FormError, match="Metadata must be a JSON object"):
        memory_changes(memory, {**same, "metadata": "[1]"})


def test_project_changes() -> None:
    categories = [{"food": "what they eat"}, {"sports": ""}]
    project: dict[str, Any] = {
        "custom_instructions": None,
        "custom_categories": categories,
        "llm": {"profile": "default", "provider": "none", "model": None},
    }
    form = {"custom_instructions": "", "custom_categories": categories_text(categories)}
    assert project_changes(project, {**form, "llm_profile": "default", "llm_model": ""}) == {}
    assert project_changes(project, {**form, "llm_profile": "local"}) == {"llm": {"profile": "local", "model": None}}
    brief = {"custom_instructions": "Be brief."}
    assert project_changes(project, {**form, **brief}) == brief
    assert project_changes(project, {**form, "reset_categories": "1"}) == {"custom_categories": None}
    with pytest.raises(FormError, match="name at least one"):
        project_changes(project, {**form, "custom_categories": "  \n"})
    assert categories_from_text("food: what they eat\nsports") == [{"food": "what they eat"}, {"sports": ""}]
