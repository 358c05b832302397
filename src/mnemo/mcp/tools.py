"""The MCP tools: the names and arguments of Mem0's hosted MCP server, each one call (or a few) to mnemo's API.

Each tool is a pydantic model of its arguments (its JSON schema is what ``tools/list`` shows) with a ``run``
that calls the API. When a call names no user, agent, app or run (neither as an argument nor inside
``filters``), the deployment's default user id is used (``MNEMO_MCP_DEFAULT_USER_ID``), except by
``delete_entities``, which only deletes what it is told to.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from mnemo.mcp.api import ApiError, MnemoApi

ENTITY_KINDS = ("user", "agent", "app", "run")
_ENTITY_KEYS = tuple(f"{kind}_id" for kind in ENTITY_KINDS)

Id = Annotated[str, Field(min_length=1, max_length=255)]
MemoryId = Annotated[str, Field(min_length=1, max_length=100, description="The memory's id (a UUID).")]
_GRAPH = "Accepted for compatibility with Mem0's MCP server; mnemo has no graph memory, so this changes nothing."
_FILTERS = (
    'Mem0 filters: {"user_id": "alice"}, {"AND": [{"user_id": "alice"}, {"created_at": {"gte": '
    '"2024-01-01"}}]}, {"OR": [...]}, {"NOT": [...]}; operators in, ne, gt, gte, lt, lte, contains, icontains, '
    'and "*" for any value; keys user_id, agent_id, app_id, run_id, created_at, updated_at, categories, '
    "metadata, keywords, memory_ids."
)


class ToolInputError(Exception):
    """Arguments the schema allows but the tool cannot act on."""


class Tool(BaseModel):
    """A tool's arguments; subclasses add ``run``. Unknown arguments are refused (a misspelt ``user_id`` must
    not silently fall back to the default user)."""

    model_config = ConfigDict(extra="forbid")
    writes: ClassVar[bool] = False
    destructive: ClassVar[bool] = False
    idempotent: ClassVar[bool] = True

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        raise NotImplementedError


class _Scoped(Tool):
    user_id: Id | None = Field(None, description="The user the memories are about.")
    agent_id: Id | None = Field(None, description="The agent the memories belong to.")
    app_id: Id | None = Field(None, description="The app the memories belong to.")
    run_id: Id | None = Field(None, description="The run (a conversation or session) the memories belong to.")

    def scope(self, default_user_id: str | None, *, filters: Any = None) -> dict[str, str]:
        given = {key: value for key in _ENTITY_KEYS if (value := getattr(self, key)) is not None}
        if not given and default_user_id and not names_entity(filters):
            given["user_id"] = default_user_id
        return given


def names_entity(filters: Any) -> bool:
    """Whether a filter (at any depth) says which user, agent, app or run it is about."""
    if isinstance(filters, dict):
        return any(key in _ENTITY_KEYS or names_entity(value) for key, value in filters.items())
    if isinstance(filters, list):
        return any(names_entity(item) for item in filters)
    return False


def _segment(value: str) -> str:
    return quote(value, safe="")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant", "system"]
    content: str
    name: str | None = Field(None, description="The speaker's name (memories are attributed to it).")


class AddMemory(_Scoped):
    """Store a fact, preference or conversation snippet. Give `text` (one sentence from the user) or `messages`
    (a conversation). With infer true (the default) mnemo extracts durable facts in the background: the answer
    carries an event_id and the memories appear within seconds. With infer false the text is stored as given,
    at once, and the answer lists the memories. Scoped to user_id, agent_id, app_id and/or run_id (none: the
    default user)."""

    writes: ClassVar[bool] = True
    destructive: ClassVar[bool] = False
    idempotent: ClassVar[bool] = False

    text: str | None = Field(None, min_length=1, description="What to remember, as a plain sentence.")
    messages: list[Message] | None = Field(
        None, min_length=1, description="A conversation ({role, content}); used instead of `text` when given."
    )
    metadata: dict[str, Any] | None = Field(None, description="Any JSON object to keep with the memories.")
    infer: bool = Field(True, description="true: extract facts (in the background); false: store verbatim now.")
    enable_graph: bool | None = Field(None, description=_GRAPH)

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        if self.messages:
            messages: list[dict[str, Any]] = [m.model_dump(exclude_none=True) for m in self.messages]
        elif self.text:
            messages = [{"role": "user", "content": self.text}]
        else:
            raise ToolInputError("Give `text` (what to remember) or `messages` (a conversation).")
        body: dict[str, Any] = {"messages": messages, "infer": self.infer, **self.scope(default_user_id)}
        if self.metadata is not None:
            body["metadata"] = self.metadata
        return await api.call("POST", "/v3/memories/add/", json=body)


class SearchMemories(_Scoped):
    """Search memories by meaning (and keywords, names and dates), best first, each with its score. Narrow with
    user_id/agent_id/app_id/run_id or `filters`; with neither, the default user's memories are searched."""

    query: str = Field(min_length=1, description="What to look for, in natural language.")
    filters: dict[str, Any] | None = Field(None, description=_FILTERS)
    limit: int | None = Field(None, ge=1, le=1000, description="How many results at most (default 10).")
    enable_graph: bool | None = Field(None, description=_GRAPH)

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        body: dict[str, Any] = {"query": self.query, **self.scope(default_user_id, filters=self.filters)}
        if self.filters is not None:
            body["filters"] = self.filters
        if self.limit is not None:
            body["top_k"] = self.limit
        return await api.call("POST", "/v3/memories/search/", json=body)


class GetMemories(_Scoped):
    """List memories (newest first) page by page, narrowed by user_id/agent_id/app_id/run_id or `filters`
    instead of a query; with neither, the default user's memories."""

    filters: dict[str, Any] | None = Field(None, description=_FILTERS)
    page: int | None = Field(None, ge=1, description="Page number, from 1.")
    page_size: int | None = Field(None, ge=1, le=1000, description="Memories per page (default 100).")
    enable_graph: bool | None = Field(None, description=_GRAPH)

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        body: dict[str, Any] = self.scope(default_user_id, filters=self.filters)
        for key in ("filters", "page", "page_size"):
            if (value := getattr(self, key)) is not None:
                body[key] = value
        return await api.call("POST", "/v3/memories/", json=body)


class GetMemory(Tool):
    """Fetch one memory by its id: text, scope, categories, metadata, dates, and what superseded it."""

    memory_id: MemoryId

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        return await api.call("GET", f"/v1/memories/{_segment(self.memory_id)}/")


class UpdateMemory(Tool):
    """Overwrite a memory's text (and optionally its metadata) by id; its history keeps the old text."""

    writes: ClassVar[bool] = True
    destructive: ClassVar[bool] = True

    memory_id: MemoryId
    text: str = Field(min_length=1, description="The memory's new text.")
    metadata: dict[str, Any] | None = Field(None, description="Replaces the memory's metadata when given.")

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        body: dict[str, Any] = {"text": self.text}
        if self.metadata is not None:
            body["metadata"] = self.metadata
        return await api.call("PUT", f"/v1/memories/{_segment(self.memory_id)}/", json=body)


class DeleteMemory(Tool):
    """Delete one memory by id (once the user has confirmed which)."""

    writes: ClassVar[bool] = True
    destructive: ClassVar[bool] = True

    memory_id: MemoryId

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        return await api.call("DELETE", f"/v1/memories/{_segment(self.memory_id)}/")


class DeleteAllMemories(_Scoped):
    """Delete every memory of a scope: of the given user_id, agent_id, app_id and run_id together (all must
    match; "*" matches any id of that kind), else of the default user. Confirm with the user first."""

    writes: ClassVar[bool] = True
    destructive: ClassVar[bool] = True

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        return await api.call("DELETE", "/v1/memories/", params=self.scope(default_user_id))


class ListEntities(Tool):
    """List the users, agents, apps and runs that have memories, with how many each has."""

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        return await api.call("GET", "/v1/entities/")


class DeleteEntities(_Scoped):
    """Delete users, agents, apps or runs with all their memories: each one named is deleted (name at least
    one; the default user is never assumed). Confirm with the user first."""

    writes: ClassVar[bool] = True
    destructive: ClassVar[bool] = True

    user_id: Id | None = Field(None, description="Delete this user and all its memories.")
    agent_id: Id | None = Field(None, description="Delete this agent and all its memories.")
    app_id: Id | None = Field(None, description="Delete this app and all its memories.")
    run_id: Id | None = Field(None, description="Delete this run and all its memories.")

    async def run(self, api: MnemoApi, default_user_id: str | None) -> Any:
        targets = [(kind, value) for kind in ENTITY_KINDS if (value := getattr(self, f"{kind}_id")) is not None]
        if not targets:
            raise ToolInputError("Name what to delete: user_id, agent_id, app_id and/or run_id.")
        deleted: list[dict[str, Any]] = []
        for kind, name in targets:
            try:
                answer = await api.call("DELETE", f"/v2/entities/{kind}/{_segment(name)}/")
            except ApiError as exc:
                if deleted:
                    done = ", ".join(f"{d['type']} {d['name']!r}" for d in deleted)
                    exc.detail = f"{exc.detail} (already deleted: {done})"
                raise
            deleted.append({"type": kind, "name": name, **(answer if isinstance(answer, dict) else {})})
        return {"deleted": deleted}


#: Every tool by name, in the order ``tools/list`` shows them.
TOOLS: dict[str, type[Tool]] = {
    "add_memory": AddMemory,
    "search_memories": SearchMemories,
    "get_memories": GetMemories,
    "get_memory": GetMemory,
    "update_memory": UpdateMemory,
    "delete_memory": DeleteMemory,
    "delete_all_memories": DeleteAllMemories,
    "list_entities": ListEntities,
    "delete_entities": DeleteEntities,
}
