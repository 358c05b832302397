"""Request bodies of the API, validated once here for the HTTP layer and the worker alike.

FastAPI parses each route's body into one of the :class:`RequestBody` models below; the worker re-reads a
stored add payload with :func:`parse_body`. Either way the same validators run, and the whole body is
first checked for what PostgreSQL cannot store (:func:`check_storable`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from mnemo.domain.memories import Scope
from mnemo.errors import BadRequest

EntityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ModelT = TypeVar("ModelT", bound=BaseModel)

#: How deeply a request body may nest objects and lists.
MAX_JSON_DEPTH = 32


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
    if "\x00" in text:
        raise ValueError(f"{where} contains a NUL character, which cannot be stored.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} contains an unpaired UTF-16 surrogate, which is not valid text.") from None


class MessageIn(_Body):
    role: Literal["user", "assistant", "system"]
    content: str
    name: str | None = None


class AddBody(RequestBody):
    messages: list[MessageIn] | MessageIn | str
    user_id: EntityId | None = None
    agent_id: EntityId | None = None
    app_id: EntityId | None = None
    run_id: EntityId | None = None
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

    @field_validator("expiration_date", mode="before")
    @classmethod
    def _plain_date(cls, value: object) -> object:
        return _require_plain_date(value, "expiration_date")

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
    page: Annotated[int, Field(ge=1)] | None = None
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


class BatchDeleteItem(_Body):
    memory_id: str


class BatchDeleteBody(RequestBody):
    memories: Annotated[list[BatchDeleteItem], Field(min_length=1, max_length=1000)]


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


class ProjectUpdateBody(RequestBody):
    name: str | None = None
    description: str | None = None
    custom_instructions: str | None = None
    agent_custom_instructions: str | None = None
    custom_categories: list[dict[str, str]] | list[str] | None = None
    multilingual: bool | None = None
    llm: LLMChoiceBody | None = None


class ExportCreateBody(_TopLevelScope):
    export_schema: dict[str, Any] | str | None = Field(default=None, alias="schema")
    filters: dict[str, Any] | None = None
    export_instructions: str | None = None
    show_expired: bool = False
    latest_only: bool = False


class ExportGetBody(_TopLevelScope):
    memory_export_id: str | None = None
    filters: dict[str, Any] | None = None
