"""Request bodies of the API, validated once here for the HTTP layer and the worker alike."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from mnemo.domain.memories import Scope
from mnemo.errors import BadRequest

EntityId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
ModelT = TypeVar("ModelT", bound=BaseModel)


class _Body(BaseModel):
    """Unknown keys are tolerated: the official clients forward arbitrary keyword arguments."""

    model_config = ConfigDict(extra="allow")


class MessageIn(_Body):
    role: Literal["user", "assistant", "system"]
    content: str
    name: str | None = None


class AddBody(_Body):
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
    timestamp: float | None = None
    immutable: bool = False

    @field_validator("expiration_date", mode="before")
    @classmethod
    def _plain_date(cls, value: object) -> object:
        return _require_plain_date(value, "expiration_date")


class _TopLevelScope(_Body):
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


class UpdateBody(_Body):
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


class BatchUpdateBody(_Body):
    memories: Annotated[list[BatchUpdateItem], Field(min_length=1, max_length=1000)]


class BatchDeleteItem(_Body):
    memory_id: str


class BatchDeleteBody(_Body):
    memories: Annotated[list[BatchDeleteItem], Field(min_length=1, max_length=1000)]


def _require_plain_date(value: object, name: str) -> object:
    if isinstance(value, str) and len(value) != 10:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD")
    return value


def describe_validation_error(error: ValidationError) -> str:
    """One readable sentence per problem, e.g. ``messages.0.content: Input should be a valid string``."""
    problems = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"] if part not in ("body",))
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "Invalid request: " + "; ".join(problems[:5])


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


class ProjectUpdateBody(_Body):
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
