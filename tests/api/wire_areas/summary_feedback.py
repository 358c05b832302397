"""Summaries and feedback (spec §1.1 rows 16–17)."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.http.wire import entities
from tests.api.wire_areas import Checked


def check(api: Checked, ping: dict[str, Any]) -> None:
    user = f"wire-sum-{uuid.uuid4().hex[:6]}"
    add = {"messages": [{"role": "user", "content": "I love sushi."}], "user_id": user, "infer": False}
    (stored,) = api.client.post("/v3/memories/add/", json=add).json()["results"]

    summary = api.call(entities.Summary, "POST", "/v1/summary/", json={"filters": {"user_id": user}})
    assert summary["total_memories"] == 1 and "sushi" in summary["summary"]
    body = {"memory_id": stored["id"], "feedback": "NEGATIVE", "feedback_reason": "stale"}
    given = api.call(entities.FeedbackGiven, "POST", "/v1/feedback/", json=body)
    assert (given["id"], given["feedback"]) == (stored["id"], "NEGATIVE")
