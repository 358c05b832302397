"""One scenario that calls every public method of the official Python clients, for the sync and async tests.

A :class:`Step` names the client method, builds its arguments from what earlier steps found (``Scene``), and
checks the answer as the client returns it. :func:`public_methods` lists what the installed client offers,
so a method the scenario does not call fails the test instead of going unnoticed.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass
class Scene:
    """What the steps share: the ids they write under and the ids earlier answers gave."""

    webhook_url: str
    user: str = field(default_factory=lambda: f"every-{uuid.uuid4().hex[:8]}")
    found: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    target: str  # "memory" (the MemoryClient) or "project" (its .project)
    method: str
    args: Callable[[Scene], Args]
    check: Callable[[Any, Scene], None]


def _call(*args: Any, **kwargs: Any) -> Callable[[Scene], Args]:
    return lambda scene: (args, kwargs)


def _memory_id(scene: Scene) -> str:
    return str(scene.found["memory_id"])


def _stored(answer: Any, scene: Scene) -> None:
    assert answer["status"] == "SUCCEEDED", answer
    scene.found["memory_id"], scene.found["second_id"] = (item["id"] for item in answer["results"][:2])


def _added(answer: Any, scene: Scene) -> None:
    assert answer["status"] == "SUCCEEDED" and answer["results"], answer


def _queued(answer: Any, scene: Scene) -> None:
    assert answer["status"] == "PENDING" and answer["event_id"], answer


def _is_memory(answer: Any, scene: Scene) -> None:
    assert answer["id"] == _memory_id(scene) and answer["user_id"] == scene.user, answer


def _listed(answer: Any, scene: Scene) -> None:
    assert answer["count"] >= 2 and {m["user_id"] for m in answer["results"]} == {scene.user}, answer


def _found(answer: Any, scene: Scene) -> None:
    assert answer["results"] and answer["results"][0]["id"] == _memory_id(scene), answer


def _updated(answer: Any, scene: Scene) -> None:
    assert answer["memory"] == "I live in Porto now.", answer


def _history(answer: Any, scene: Scene) -> None:
    assert [entry["event"] for entry in answer][:2] == ["ADD", "UPDATE"], answer


def _message(answer: Any, scene: Scene) -> None:
    assert isinstance(answer["message"], str) and answer["message"], answer


def _feedback(answer: Any, scene: Scene) -> None:
    assert answer["feedback"] == "POSITIVE" and answer["feedback_reason"] == "spot on", answer


def _users(answer: Any, scene: Scene) -> None:
    assert ("user", scene.user) in [(e["type"], e["name"]) for e in answer["results"]], answer


def _export_created(answer: Any, scene: Scene) -> None:
    scene.found["export_id"] = answer["id"]


def _exported(answer: Any, scene: Scene) -> None:
    assert len(answer["memories"]) >= 2, answer


def _summary(answer: Any, scene: Scene) -> None:
    assert answer, answer


def _profile_settings(answer: Any, scene: Scene) -> None:
    assert {"enabled", "entities"} <= set(answer), answer


def _profile_enabled(answer: Any, scene: Scene) -> None:
    assert answer["enabled"] is True, answer


def _profile_job(answer: Any, scene: Scene) -> None:
    assert answer["job_id"] and answer["status_url"], answer
    scene.found["status_url"] = answer["status_url"]


def _job(answer: Any, scene: Scene) -> None:
    assert answer["job"]["status"], answer


def _profile(answer: Any, scene: Scene) -> None:
    assert answer["entity_id"] == scene.user and answer["profile"], answer


def _sampled(answer: Any, scene: Scene) -> None:
    assert answer["job_id"], answer


def _project(answer: Any, scene: Scene) -> None:
    assert answer["project_id"], answer


def _project_fields(answer: Any, scene: Scene) -> None:
    assert set(answer) == {"custom_instructions", "decay"} and answer["decay"] is True, answer


def _project_created(answer: Any, scene: Scene) -> None:
    assert answer["project_id"], answer


def _members(answer: Any, scene: Scene) -> None:
    assert isinstance(answer["members"], list), answer


def _webhook_created(answer: Any, scene: Scene) -> None:
    assert answer["url"] == scene.webhook_url, answer
    scene.found["webhook_id"] = answer["webhook_id"]


def _webhooks(answer: Any, scene: Scene) -> None:
    assert [hook["name"] for hook in answer] == ["renamed"], answer


def _deleted_users(answer: Any, scene: Scene) -> None:
    assert answer["message"] == "Entity deleted successfully.", answer


def _reset(answer: Any, scene: Scene) -> None:
    assert "reset" in answer["message"], answer


def _project_id(scene: Scene) -> str:
    return str(scene.found["project_id"])  # set by the test from the client's ping


MEMBER = "reader@example.com"
SCHEMA = {"type": "object", "properties": {"memories": {"type": "array", "items": {"type": "string"}}}}

STEPS: list[Step] = [
    Step(
        "memory",
        "add",
        lambda s: (
            ([{"role": "user", "content": "I live in Lisbon."}, {"role": "user", "content": "I keep two cats."}],),
            {"user_id": s.user, "infer": False},
        ),
        _stored,
    ),
    Step("memory", "add", lambda s: (("I work as a nurse.",), {"user_id": s.user}), _queued),
    Step("memory", "get", lambda s: ((_memory_id(s),), {}), _is_memory),
    Step("memory", "get_all", lambda s: ((), {"filters": {"user_id": s.user}}), _listed),
    Step("memory", "search", lambda s: (("Where do I live?",), {"filters": {"user_id": s.user}}), _found),
    Step("memory", "update", lambda s: ((_memory_id(s),), {"text": "I live in Porto now."}), _updated),
    Step("memory", "history", lambda s: ((_memory_id(s),), {}), _history),
    Step(
        "memory",
        "batch_update",
        lambda s: (([{"memory_id": s.found["second_id"], "text": "I keep three cats."}],), {}),
        _message,
    ),
    Step(
        "memory",
        "feedback",
        lambda s: ((_memory_id(s),), {"feedback": "POSITIVE", "feedback_reason": "spot on"}),
        _feedback,
    ),
    Step("memory", "users", _call(), _users),
    Step("memory", "create_memory_export", lambda s: ((SCHEMA,), {"filters": {"user_id": s.user}}), _export_created),
    Step("memory", "get_memory_export", lambda s: ((), {"memory_export_id": s.found["export_id"]}), _exported),
    Step("memory", "get_summary", lambda s: ((), {"filters": {"user_id": s.user}}), _summary),
    Step("memory", "get_profile_settings", _call(), _profile_settings),
    Step("memory", "update_profile_settings", _call(enabled=True), _profile_enabled),
    Step("memory", "generate_profile", lambda s: ((s.user,), {}), _profile_job),
    Step("memory", "get_profile_job", lambda s: ((s.found["status_url"],), {}), _job),
    Step("memory", "get_profile", lambda s: ((s.user,), {}), _profile),
    Step("memory", "sample_profiles", _call(limit=1), _sampled),
    Step("memory", "get_project", _call(), _project),
    Step("memory", "update_project", _call(custom_instructions="Keep places and pets."), _message),
    Step("project", "update", _call(decay=True), _message),
    Step("project", "get", _call(fields=["custom_instructions", "decay"]), _project_fields),
    Step("project", "add_member", _call(MEMBER, role="READER"), _message),
    Step("project", "update_member", _call(MEMBER, role="OWNER"), _message),
    Step("project", "get_members", _call(), _members),
    Step("project", "remove_member", _call(MEMBER), _message),
    Step("project", "create", _call("a second project", description="made by every-method"), _project_created),
    Step(
        "memory",
        "create_webhook",
        lambda s: (
            (),
            {"url": s.webhook_url, "name": "hook", "project_id": _project_id(s), "event_types": ["memory_add"]},
        ),
        _webhook_created,
    ),
    Step(
        "memory", "update_webhook", lambda s: ((), {"webhook_id": s.found["webhook_id"], "name": "renamed"}), _message
    ),
    Step("memory", "get_webhooks", lambda s: ((), {"project_id": _project_id(s)}), _webhooks),
    Step("memory", "delete_webhook", lambda s: ((), {"webhook_id": s.found["webhook_id"]}), _message),
    Step("memory", "delete", lambda s: ((s.found["second_id"],), {}), _message),
    Step("memory", "batch_delete", lambda s: (([{"memory_id": _memory_id(s)}],), {}), _message),
    Step("memory", "delete_all", lambda s: ((), {"user_id": s.user}), _message),
    Step("memory", "delete_users", lambda s: ((), {"user_id": s.user}), _deleted_users),
    # reset deletes every entity users() lists; the client refuses to run with none left.
    Step("memory", "add", lambda s: (("I cycle to work.",), {"agent_id": f"{s.user}-agent", "infer": False}), _added),
    Step("memory", "reset", _call(), _reset),
    Step("project", "delete", _call(), _message),
]

#: Methods the scenario leaves out, and why.
NOT_CALLED = {("memory", "chat"): "raises NotImplementedError in the client itself"}


def public_methods(client: Any) -> set[tuple[str, str]]:
    """Every public method of the client and of its ``project``."""
    found = set()
    for target, owner in (("memory", client), ("project", client.project)):
        for name, member in inspect.getmembers(type(owner)):
            if not name.startswith("_") and callable(member):
                found.add((target, name))
    return found


def called() -> set[tuple[str, str]]:
    return {(step.target, step.method) for step in STEPS} | set(NOT_CALLED)
