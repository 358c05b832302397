"""A project's settings: what PATCH on the project stores, and what extraction, re-ranking and GET read.

Stored as one JSON object per project (``projects.settings``); a PATCH merges the keys it sets. The model
reads what older versions stored too (a null ``multilingual``), and keeps keys it does not know
(``extra="allow"``): settings added later round-trip through a process that predates them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class LLMSetting(BaseModel):
    """The project's LLM: the name of one of the deployment's profiles, and optionally another model on it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    profile: str
    model: str | None = None


class ProjectSettings(BaseModel):
    """Settings that shape a project's extraction and re-ranking. Unset means the deployment's default."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: extraction instructions for user-attributed facts (a call's own instructions win)
    custom_instructions: str | None = None
    #: extraction instructions when the add has only an agent_id
    agent_custom_instructions: str | None = None
    #: ``[{name: description}, ...]``; None: the 15 default categories
    custom_categories: list[dict[str, str]] | None = None
    multilingual: bool = False
    #: None: the profile ``default``
    llm: LLMSetting | None = None
    #: Stored and shown, without behaviour of their own in mnemo (README, "Hosted request fields"):
    decay: bool = False
    memory_depth: str | None = None
    usecase_setting: str | int | float | None = None
    #: None: "v3", the one pipeline mnemo runs
    version: str | None = None
    enable_graph: bool = False

    @field_validator("multilingual", "decay", "enable_graph", mode="before")
    @classmethod
    def _null_is_off(cls, value: object) -> object:
        return False if value is None else value

    def stored(self) -> dict[str, Any]:
        """The keys this object sets, as JSON: what a PATCH merges into the stored settings."""
        return self.model_dump(mode="json", exclude_unset=True)
