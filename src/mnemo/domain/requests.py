"""Request bodies of the API, validated once here for the HTTP layer and the worker alike.

FastAPI parses each route's body into one of the :class:`RequestBody` models below; the worker re-reads a
stored add payload with :func:`parse_body`. Either way the same validators run, and the whole body is
first checked for what PostgreSQL cannot store (:func:`check_storable`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mnemo.domain.content import content_parts
from mnemo.domain.dates import check_timezone
from mnemo.domain.memories import Scope
from mnemo.errors import BadRequest
from mnemo.filters import unstorable

#: How deeply a request body may nest objects and lists.
MAX_JSON_DEPTH = 32
#: The longest entity id (user_id, agent_id, app_id, run_id), message ``name``, category or project name.
MAX_NAME_CHARS = 255
#: The highest ``page`` of a paged list: with the largest page size its offset still fits PostgreSQL's bigint.
MAX_PAGE = 1_000_000_000
#: The wildcard of filters (``{"user_id": "*"}``: any user); never part of an id written to.
WILDCARD = "*"


def name_problem(value: str, *, required: bool = True) -> str | None:
    """What keeps ``value`` from being stored as an id or a name, or None. The character set is printable
    Unicode: letters, marks, numbers, punctuation, symbols and the ASCII space (Unicode categories L, M, N, P, S
    and U+0020); no control, format, private-use, unassigned or separator characters other than the space."""
    if not value:
        return "must not be empty" if required else None
    if len(value) > MAX_NAME_CHARS:
        return f"has {len(value)} characters; at most {MAX_NAME_CHARS} are allowed"
    if not value.isprintable():
        bad = next(char for char in value if not char.isprintable())
        return (
            f"contains the character U+{ord(bad):04X}, which is not allowed (only printable characters: no control,"
            " format or line-break characters, no whitespace but the space)"
        )
    return None


def write_id_problem(value: str) -> str | None:
    """What keeps ``value`` from being an entity id to write under (see :func:`name_problem`; and no ``*``)."""
    if WILDCARD in value:
        return (
            f"contains {WILDCARD!r}, the filter wildcard (any id): it is never an id to write under;"
            " name the entity exactly"
        )
    return name_problem(value)


def _refusing(problem_of: Callable[[str], str | None]) -> AfterValidator:
    """A pydantic check raising what ``problem_of`` finds wrong with a string."""

    def check(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


#: An entity id in a read (a filter): ``*`` means any.
EntityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS)]
#: An entity id to write under: :func:`write_id_problem` says what is refused (surrounding whitespace is dropped).
WriteEntityId = Annotated[str, StringConstraints(strip_whitespace=True), _refusing(write_id_problem)]
#: A message's speaker name: printable, at most :data:`MAX_NAME_CHARS` characters.
SpeakerName = Annotated[str, _refusing(partial(name_problem, required=False))]
#: A project's name: 1 to :data:`MAX_NAME_CHARS` printable characters (surrounding whitespace dropped).
ProjectName = Annotated[str, StringConstraints(strip_whitespace=True), _refusing(name_problem)]
ModelT = TypeVar("ModelT", bound=BaseModel)


class _Body(BaseModel):
    """Unknown keys are tolerated: the official clients forward arbitrary keyword arguments."""

    model_config = ConfigDict(extra="allow")


class RequestBody(_Body):
    """A whole request body. Before any field is read, the decoded JSON is refused when it holds what
    PostgreSQL cannot store (NUL characters, lone surrogates) or nests deeper than :data:`MAX_JSON_DEPTH`."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data, "body", 0)
        return data

    def as_sent(self) -> dict[str, Any]:
        """The body as JSON with only the keys the client sent (unknown ones included): what an add's event
        stores as its payload, and what an ``Idempotency-Key`` is compared on."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def check_storable(value: Any, where: str, depth: int) -> None:
    """Raise ValueError naming the first string or key PostgreSQL cannot store, or too deep a nesting."""
    if depth > MAX_JSON_DEPTH:
        shown = where if len(where) <= 80 else where[:38] + "…" + where[-38:]
        raise ValueError(f"{shown} is nested too deeply: more than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where} key {key[:40]!r}")
            check_storable(item, f"{where}.{key[:40]}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{where}.{index}", depth + 1)


def _check_text(text: str, where: str) -> None:
    problem = unstorable(text)
    if problem == "nul":
        raise ValueError(f"{where} contains a NUL character, which cannot be stored.")
    if problem == "surrogate":
        raise ValueError(f"{where} contains an unpaired UTF-16 surrogate, which is not valid text.")


class MessageIn(_Body):
    role: Literal["user", "assistant", "system"]
    #: a string, one content part or a list of them (``mnemo.domain.content`` says which parts are read)
    content: str | dict[str, Any] | list[str | dict[str, Any]]
    name: SpeakerName | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _parts(cls, value: object) -> object:
        """One message naming the malformed part (rather than one per member of the union)."""
        content_parts(value)
        return value


class AddBody(RequestBody):
    messages: list[MessageIn] | MessageIn | str
    user_id: WriteEntityId | None = None
    agent_id: WriteEntityId | None = None
    app_id: WriteEntityId | None = None
    run_id: WriteEntityId | None = None
    filters: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    infer: bool = True
    expiration_date: date | None = None
    custom_instructions: str | None = None
    agent_custom_instructions: str | None = None
    custom_categories: list[dict[str, str]] | list[str] | dict[str, str] | None = None
    #: unix seconds; an int stays an int in the stored payload
    timestamp: int | float | None = None
    immutable: bool = False
    #: the day (or moment) the messages were written, read in ``timezone``: see mnemo.domain.dates.observation
    observation_date: date | None = None
    observation_datetime: datetime | None = None
    timezone: Annotated[str, AfterValidator(check_timezone)] | None = None
    #: free-text hints of what to extract and what to leave out (the LLM reads them; offline: a word rule)
    includes: Annotated[str, StringConstraints(max_length=2_000)] | None = None
    excludes: Annotated[str, StringConstraints(max_length=2_000)] | None = None

    @field_validator("expiration_date", "observation_date", mode="before")
    @classmethod
    def _plain_date(cls, value: object, info: ValidationInfo) -> object:
        return _require_plain_date(value, str(info.field_name))

    @field_validator("timestamp", mode="before")
    @classmethod
    def _unix_seconds(cls, value: object) -> object:
        """One message for what is not a number (rather than one per member of the union)."""
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"must be unix seconds (a number); got {str(value)[:40]!r}")


class _TopLevelScope(RequestBody):
    """Entity ids given beside ``filters`` (ANDed into them), as the client's ``**kwargs`` send them."""

    user_id: EntityId | None = None
    agent_id: EntityId | None = None
    app_id: EntityId | None = None
    run_id: EntityId | None = None

    def top_level_scope(self) -> Scope | None:
        """The entity ids given at the top level, if any."""
        scope = Scope(self.user_id, self.agent_id, self.app_id, self.run_id)
        return scope if any(scope.as_dict().values()) else None


class SearchBody(_TopLevelScope):
    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32_000)]
    filters: dict[str, Any] | None = None
    top_k: Annotated[int, Field(ge=1, le=1000)] = 10
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    rerank: bool = False
    fields: list[str] | None = None
    categories: list[str] | None = None
    metadata: dict[str, Any] | None = None
    show_expired: bool = False
    latest_only: bool = False
    reference_date: str | int | None = None
    keyword_search: bool | None = None


class ListBody(_TopLevelScope):
    filters: dict[str, Any] | None = None
    page: Annotated[int, Field(ge=1, le=MAX_PAGE)] | None = None
    page_size: Annotated[int, Field(ge=1, le=1000)] | None = None
    start_date: date | None = None
    end_date: date | None = None
    categories: list[str] | None = None
    keywords: str | None = None
    fields: list[str] | None = None
    metadata: dict[str, Any] | None = None
    show_expired: bool = False
    latest_only: bool = False


class UpdateBody(RequestBody):
    text: Annotated[str, StringConstraints(min_length=1, max_length=32_000)] | None = None
    metadata: dict[str, Any] | None = None
    timestamp: float | str | None = None
    expiration_date: date | None = None

    @field_validator("expiration_date", mode="before")
    @classmethod
    def _plain_date(cls, value: object) -> object:
        return _require_plain_date(value, "expiration_date")


class BatchUpdateItem(_Body):
    memory_id: str
    text: Annotated[str, StringConstraints(min_length=1, max_length=32_000)] | None = None
    metadata: dict[str, Any] | None = None


class BatchUpdateBody(RequestBody):
    memories: Annotated[list[BatchUpdateItem], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _once_each(self) -> BatchUpdateBody:
        _each_memory_once(item.memory_id for item in self.memories)
        return self


class BatchDeleteItem(_Body):
    memory_id: str


class BatchDeleteBody(RequestBody):
    memories: Annotated[list[BatchDeleteItem], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _once_each(self) -> BatchDeleteBody:
        _each_memory_once(item.memory_id for item in self.memories)
        return self


def _each_memory_once(memory_ids: Iterable[str]) -> None:
    """A batch names each memory once: two changes of one memory in one batch have no order to apply them in."""
    seen: dict[str, int] = {}
    for index, memory_id in enumerate(memory_ids):
        try:
            key = str(uuid.UUID(memory_id))
        except ValueError:
            key = memory_id  # not a UUID: the route says so
        if key in seen:
            raise ValueError(
                f"memories.{index}.memory_id names memory {memory_id!r} again (as memories.{seen[key]} does):"
                " name each memory at most once per batch"
            )
        seen[key] = index


def _require_plain_date(value: object, name: str) -> object:
    if isinstance(value, str) and len(value) != 10:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD")
    return value


def describe_validation_error(error: ValidationError) -> str:
    """One readable sentence per problem, e.g. ``messages.0.content: Input should be a valid string``."""
    return describe_errors(error.errors(include_url=False))


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """:func:`describe_validation_error` for pydantic's error dicts (as FastAPI reports them: under ``body``)."""
    problems = []
    for item in errors:
        location = ".".join(str(part) for part in item["loc"] if part != "body")
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
        if len(problems) == 5:
            break
    return "Invalid request: " + "; ".join(problems)


def parse_body(model: type[ModelT], body: object) -> ModelT:
    """Validate a decoded JSON body, raising BadRequest with a readable ``detail``."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise BadRequest(describe_validation_error(error)) from None


class LLMChoiceBody(BaseModel):
    """A project's LLM: one of the deployment's profiles, optionally with another model. Nothing else (no
    URL, no key) is accepted."""

    model_config = ConfigDict(extra="forbid")

    profile: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None


class ExportCreateBody(_TopLevelScope):
    export_schema: dict[str, Any] | str | None = Field(default=None, alias="schema")
    filters: dict[str, Any] | None = None
    export_instructions: str | None = None
    show_expired: bool = False
    latest_only: bool = False


class ExportGetBody(_TopLevelScope):
    memory_export_id: str | None = None
    filters: dict[str, Any] | None = None
