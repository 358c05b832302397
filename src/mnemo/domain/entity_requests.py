"""Request bodies of the summary, feedback and profile routes (spec §1.1 rows 16–17, §1.4)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from mnemo.domain.feedback import FEEDBACK_VALUES
from mnemo.domain.requests import RequestBody, WriteEntityId

#: The longest feedback reason and profile instructions kept.
MAX_REASON_CHARS = 10_000
#: How many users one sample job may profile.
MAX_SAMPLE = 10


class SummaryBody(RequestBody):
    #: None or {}: every memory of the project
    filters: dict[str, Any] | None = None


class FeedbackBody(RequestBody):
    memory_id: str
    #: POSITIVE, NEGATIVE, VERY_NEGATIVE (any case), or null to clear
    feedback: str | None = None
    feedback_reason: Annotated[str, StringConstraints(max_length=MAX_REASON_CHARS)] | None = None

    @field_validator("feedback")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        upper = value.strip().upper()
        if upper not in FEEDBACK_VALUES:
            raise ValueError(f"must be one of {', '.join(FEEDBACK_VALUES)} or null; got {value[:40]!r}")
        return upper


class ProfileJobBody(RequestBody):
    operation: Literal["trigger", "sample"]
    entity_type: Literal["user"]
    #: the user to profile (``trigger``)
    entity_id: WriteEntityId | None = None
    #: how many users to sample (``sample``); default 3
    limit: Annotated[int, Field(ge=1, le=MAX_SAMPLE)] | None = None

    @model_validator(mode="after")
    def _target(self) -> ProfileJobBody:
        if self.operation == "trigger" and self.entity_id is None:
            raise ValueError('operation "trigger" needs entity_id: the user to profile')
        return self


class EntityProfileSettingsIn(BaseModel):
    """One entity type's settings; a key sent as null clears it, a key left out keeps it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    profile_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    custom_instructions: Annotated[str, StringConstraints(max_length=MAX_REASON_CHARS)] | None = None

    @field_validator("profile_schema")
    @classmethod
    def _described(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            schema_problem(value)
        return value


def schema_problem(schema: dict[str, Any]) -> None:
    """A profile schema is a JSON Schema object whose every property has a ``description``."""
    properties = schema.get("properties")
    if schema.get("type", "object") != "object" or not isinstance(properties, dict) or not properties:
        raise ValueError('must be a JSON Schema of type "object" with at least one property in "properties"')
    for name, spec in properties.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str) or not spec["description"]:
            raise ValueError(f"property {name!r} needs a description (a non-empty string)")


class ProfileSettingsBody(RequestBody):
    enabled: bool | None = None
    entities: dict[Literal["user"], EntityProfileSettingsIn] | None = None

    @model_validator(mode="before")
    @classmethod
    def _nested(cls, data: Any) -> Any:
        if isinstance(data, dict):
            flat = sorted({"schema", "custom_instructions"} & set(data))
            if flat:
                raise ValueError(
                    f"Unsupported settings: {', '.join(flat)}; send them under entities.user,"
                    ' e.g. {"entities": {"user": {"custom_instructions": "..."}}}'
                )
        return data
