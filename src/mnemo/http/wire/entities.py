"""Response models of the entity, stats, summary and feedback routes (spec §1.1 rows 10–11, 16–17, §1.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityTotals(_Wire):
    user: int
    agent: int
    app: int
    run: int


class FeedbackTotals(_Wire):
    POSITIVE: int
    NEGATIVE: int
    VERY_NEGATIVE: int


class Stats(_Wire):
    """``GET /v1/stats/``: the project in numbers (a mnemo shape: the hosted one is not documented)."""

    total_memories: int = Field(description="every stored memory, superseded ones included")
    current_memories: int = Field(description="memories not superseded by a newer one")
    total_entities: int
    entities: EntityTotals = Field(description="entities by type")
    total_users: int
    total_agents: int
    total_apps: int
    total_runs: int
    total_add_requests: int = Field(description="adds received (each add request is one event)")
    feedback: FeedbackTotals = Field(description="memories by their current feedback")


class SummaryMemory(_Wire):
    id: UUID
    memory: str
    created_at: datetime


class SummarySection(_Wire):
    category: str
    count: int = Field(description="current memories in this category")
    memories: list[SummaryMemory] = Field(description="its most recent memories (at most 5)")


class Summary(_Wire):
    """``POST /v1/summary/``: a summary of the current memories the filters select."""

    summary: str = Field(description="prose: written by the project's LLM, or composed offline")
    total_memories: int
    sections: list[SummarySection] = Field(description="by category, largest first")
    generated_by: str = Field(description='"offline", or the LLM that wrote `summary`')
    detail: str | None = Field(description="why the offline summary was used when an LLM is configured")


class FeedbackGiven(_Wire):
    id: UUID = Field(description="the memory's id")
    feedback: Literal["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"] | None
    feedback_reason: str | None
