"""The Mem0 wire shapes mnemo answers with (``../shared/spec/mem0-platform-api.md`` §1–§6), as pydantic models.

They document the API: each route names its model with :func:`mnemo.http.openapi.responds`, so
``/openapi.json`` describes every success response. They are not on the request path (the routes build
plain dicts); ``tests/api/test_wire_models.py`` validates real responses against them, strictly
(``extra="forbid"``), so the documentation cannot drift from what is sent.

``fields`` on search and get-all keeps only the named keys of each memory (and ``id``), so the items of
those lists are documented with every key but ``id`` optional (:data:`MemoryFields`, :data:`SearchHitFields`);
without ``fields`` an item is a whole :class:`Memory` / :class:`SearchHit`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, create_model

from mnemo.domain.events import EventStatus, EventType


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- memories ---------------------------------------------------------------------------------------


class StructuredAttributes(_Wire):
    """Calendar facts of ``created_at``, in UTC."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    day_of_week: str = Field(description='"monday" … "sunday"')
    week_of_year: int
    day_of_year: int
    quarter: int
    is_weekend: bool


class _MemoryBase(_Wire):
    id: UUID
    memory: str = Field(description="the fact, or the message kept verbatim")
    user_id: str | None
    agent_id: str | None
    app_id: str | None
    run_id: str | None = Field(description="the run id (search names it so)")
    session_id: str | None = Field(description="the run id again (get and get-all name it so)")
    hash: str = Field(description="md5 of the memory's text")
    metadata: dict[str, Any] | None
    categories: list[str]
    immutable: bool
    expiration_date: date | None
    created_at: datetime
    updated_at: datetime
    attributed_to: str | None = Field(description='"user" or "assistant": who said it')
    actor_name: str | None = Field(description="the speaker's name, when the messages gave one")
    replaced_by: UUID | None = Field(description="the newer memory that superseded this one")
    lifecycle_state: str = Field(description='"active" or "superseded"')
    synthesized: bool


class Memory(_MemoryBase):
    """One memory, as get, update and get-all return it."""

    structured_attributes: StructuredAttributes
    feedback: Literal["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"] | None = Field(
        default=None, description="get, when the memory has feedback: the latest (POST /v1/feedback/)"
    )
    feedback_reason: str | None = Field(default=None, description="get only: the reason given with it")


class ScoreBreakdown(_Wire):
    """The signals fused into ``score``."""

    semantic: float
    bm25: float
    entity: float
    time: float


class SearchHit(_MemoryBase):
    """One search result."""

    score: float = Field(description="the fused score, in [0, 1]; results come best first")
    score_breakdown: ScoreBreakdown


def _with_fields(model: type[_Wire], description: str) -> type[_Wire]:
    """``model`` with every key but ``id`` optional: an item of a list read with ``fields``."""
    optional: dict[str, Any] = {
        name: (info.annotation, Field(default=None, description=info.description))
        for name, info in model.model_fields.items()
        if name != "id"
    }
    partial: type[_Wire] = create_model(
        f"{model.__name__}Fields", __base__=_Wire, __doc__=description, id=(UUID, ...), **optional
    )
    return partial


MemoryFields = _with_fields(
    Memory, "A memory of get-all: every key of Memory, or with `fields` only those named (and `id`)."
)
SearchHitFields = _with_fields(
    SearchHit, "A search result: every key of SearchHit, or with `fields` only those named (and `id`)."
)


class Rerank(_Wire):
    applied: bool = Field(description="false: the results keep the fused order (detail says why)")
    by: str | None = Field(description="the LLM that re-ranked, when one was asked")
    detail: str


class SearchResponse(_Wire):
    results: list[SearchHitFields]  # type: ignore[valid-type]
    rerank: Rerank | None = Field(default=None, description="present when the search asked for `rerank`")


class _Page(_Wire):
    count: int = Field(description="how many in all")
    next: str | None = Field(description="absolute URL of the next page")
    previous: str | None = Field(description="absolute URL of the previous page")


class MemoryPage(_Page):
    """get-all: one page of memories, newest first."""

    results: list[MemoryFields]  # type: ignore[valid-type]


class HistoryEntry(_Wire):
    id: UUID
    memory_id: UUID
    event: Literal["ADD", "UPDATE", "DELETE"]
    old_memory: str | None
    new_memory: str | None
    input: list[dict[str, Any]] = Field(description="the messages that caused the change")
    user_id: str | None
    agent_id: str | None
    app_id: str | None
    run_id: str | None
    session_id: str | None
    categories: list[str]
    metadata: dict[str, Any] | None
    is_deleted: bool
    created_at: datetime
    updated_at: datetime


#: A memory's history: a bare list, oldest first.
History = list[HistoryEntry]


# --- adds and events --------------------------------------------------------------------------------


class AddedMemory(_Wire):
    """One memory an add wrote (in the synchronous response and in its event's ``results``)."""

    id: UUID
    event: Literal["ADD"]
    data: dict[str, str] = Field(description='{"memory": the text}')
    memory: str
    user_id: str | None
    agent_id: str | None
    app_id: str | None
    run_id: str | None


class AddQueued(_Wire):
    """``infer`` true (the default): the add is committed and queued; poll its event."""

    message: str
    status: Literal["PENDING"]
    event_id: UUID


class AddStored(_Wire):
    """``infer: false``: the messages are stored before the answer."""

    message: str
    status: Literal["SUCCEEDED"]
    event_id: UUID
    results: list[AddedMemory]


AddResponse = Annotated[AddQueued | AddStored, Field(discriminator="status")]


class Event(_Wire):
    """An add (or delete-all) and what became of it."""

    id: UUID
    event_type: EventType
    status: EventStatus
    payload: dict[str, Any] = Field(
        description='the request as sent; once forgotten (retention, deletes) only its entity ids and "redacted"'
    )
    metadata: dict[str, Any] | None = Field(description="how the add ran: extractor, counts, LLM usage")
    results: list[dict[str, Any]] = Field(description="an add's memories (AddedMemory); a delete's ids")
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    latency: float | None = Field(description="milliseconds from creation to completion")
    graph_status: str | None


class EventPage(_Page):
    """The project's events, newest first."""

    results: list[Event]


# --- entities, deletes, batches ---------------------------------------------------------------------


class Entity(_Wire):
    id: str
    name: str = Field(description="the user_id, agent_id, app_id or run_id")
    type: Literal["user", "agent", "app", "run"]
    created_at: datetime
    updated_at: datetime
    total_memories: int
    owner: str
    metadata: dict[str, Any] | None


class EntityPage(_Page):
    results: list[Entity]
    total_users: int
    total_agents: int
    total_apps: int
    total_runs: int


class Message(_Wire):
    message: str


class MemoryDeleted(_Wire):
    message: str
    cascade_count: int | None = Field(default=None, description="with delete_linked=true: the older versions")


class MemoriesDeleted(_Wire):
    """delete-all."""

    message: str
    deleted_count: int
    event_id: UUID


class EntityDeleted(_Wire):
    message: str
    deleted_count: int


# --- health, account, project, exports --------------------------------------------------------------


class Health(_Wire):
    status: Literal["ok"]


class ReadinessCheck(_Wire):
    ok: bool
    detail: str


class QueueDepth(_Wire):
    pending: int
    running: int
    oldest_pending_seconds: float | None
    live_workers: int = Field(description="workers that heart-beat recently")


class Readiness(_Wire):
    """``/readyz``: 200 when every check passes, else 503 with the same body (and ``detail``)."""

    status: Literal["ready", "not ready"]
    checks: dict[str, ReadinessCheck] = Field(description="database, migrations, workers, queue")
    queue: QueueDepth | None = Field(default=None, description="absent when the database did not answer")
    detail: str | None = Field(default=None, description="when not ready: the failed checks")


class Ping(_Wire):
    status: Literal["ok"]
    org_id: str
    project_id: str
    user_email: str | None
    #: mnemo addition: whether the key may only read (the hosted API does not say)
    read_only: bool


class ProjectLLMShown(_Wire):
    profile: str
    provider: str | None = Field(description="null when the deployment no longer defines the profile")
    model: str | None


class Project(_Wire):
    project_id: str
    org_id: str
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    members: list[dict[str, Any]] = Field(description="[{username, email, role}], as the members route lists them")
    user_role: Literal["READER", "OWNER"] = Field(description="the caller's role (OWNER for a key of no member)")
    custom_instructions: str | None
    agent_custom_instructions: str | None
    custom_categories: list[dict[str, str]] = Field(description="[{name: description}]; the 15 defaults when unset")
    multilingual: bool
    llm: ProjectLLMShown
    is_default: bool
    enable_graph: bool = Field(description="stored and shown; mnemo has no graph store")
    version: str = Field(description='"v3" unless set; stored and shown')
    decay: bool = Field(description="stored and shown; search does not decay with age")
    memory_depth: str | None = Field(description="stored and shown")
    usecase_setting: str | int | float | None = Field(description="stored and shown")


class ExportCreated(_Wire):
    message: str
    id: UUID


#: An export: an object in the shape of the schema it was created with.
Export = dict[str, Any]
