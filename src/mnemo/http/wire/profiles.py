"""Response models of the profile routes (spec §1.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["running", "succeeded", "failed"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Profile(_Wire):
    """``GET /v2/entities/user/{id}/profile/``."""

    profile: dict[str, Any] = Field(description="{} until a generation succeeded; shaped by the schema when set")
    status: Literal["succeeded", "pending", "not_enabled", "insufficient_data"] = Field(
        description="succeeded: `profile` holds the last generation; pending: memories but no profile yet"
        " (generate one); not_enabled: profiles are off; insufficient_data: the user has no current memories"
    )
    entity_type: Literal["user"]
    entity_id: str
    updated_at: datetime | None
    generation_count: int
    generated_by: str | None = Field(description='"offline", or the LLM that wrote the profile')
    error: str | None = Field(description="why the offline profile was kept when the LLM was asked")


class ProfileJobCreated(_Wire):
    """``POST /v2/profiles/jobs/``: the job ran in the request; its status is final unless it is still running
    for a retry that came while the first request was generating."""

    job_id: UUID
    status: JobStatus
    status_url: str = Field(description="this job's path: GET it (client.get_profile_job(status_url))")
    operation: Literal["trigger", "sample"]
    entity_type: Literal["user"]
    entity_count_reserved: int = Field(description="users the job profiles")
    sampled: int = Field(description="same, for sample jobs")
    entity_ids: list[str]
    event_id: None = Field(description="always null: profile jobs are not events in mnemo")
    replayed: bool = Field(description="true: the answer to an earlier request with this Idempotency-Key")


class ProfileJob(_Wire):
    id: UUID
    operation: Literal["trigger", "sample"]
    entity_type: Literal["user"]
    status: JobStatus
    total: int
    enumeration_complete: bool
    completed: int = Field(description="succeeded + failed + skipped")
    succeeded: int
    failed: int
    skipped: int = Field(description="users without current memories (or deleted meanwhile)")
    entity_ids: list[str]
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class ProfileJobStatus(_Wire):
    job: ProfileJob


class EntityProfileSettings(_Wire):
    schema_: dict[str, Any] | None = Field(alias="schema", description="the JSON Schema profiles follow")
    custom_instructions: str | None


class ProfileEntities(_Wire):
    user: EntityProfileSettings


class ProfileCapabilities(_Wire):
    entity_types: list[Literal["user"]]
    operations: list[Literal["trigger", "sample"]]
    max_sample: int
    generator: str = Field(description='"offline", or the LLM the project\'s profile selects')


class ProfileSettings(_Wire):
    enabled: bool
    capabilities: ProfileCapabilities
    entities: ProfileEntities
