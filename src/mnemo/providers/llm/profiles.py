"""Named LLM profiles: the LLMs a deployment offers, among which each project picks one.

The deployment defines them (settings: the ``llm_*`` fields are the profile ``"default"``, more come from
``llm_profiles``); a project only names one, optionally with another model for it. A project can therefore
never point the server at a URL of its choosing with the deployment's keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr

from mnemo.domain.projects import ProjectSettings
from mnemo.providers.llm.base import LLM

LLMProvider = Literal["none", "openai", "anthropic"]
DEFAULT_PROFILE = "default"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _profile_name(name: str) -> str:
    if name == DEFAULT_PROFILE:
        raise ValueError(f"{DEFAULT_PROFILE!r} is the profile of the llm_* settings; give this one another name")
    if not _NAME.fullmatch(name):
        raise ValueError(f"profile names are 1-64 letters, digits, '_', '.' or '-'; got {name!r}")
    return name


ProfileName = Annotated[str, AfterValidator(_profile_name)]


class LLMProfile(BaseModel):
    """One LLM a project may use. Fields mean what the ``llm_*`` settings of the same names mean; nothing is
    inherited from the default profile (an API key in particular is never sent to another profile's server)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: LLMProvider
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key: SecretStr | None = None
    timeout_seconds: float = 60.0
    total_timeout_seconds: float = 180.0
    max_concurrency: int = 4
    json_mode: bool = True
    structured_output: bool = False
    #: the model reads images (an add's image parts are then described by it)
    vision: bool = False


@dataclass(frozen=True, slots=True)
class LLMChoice:
    """A project's pick: a profile and, optionally, another model on that profile's server."""

    profile: str = DEFAULT_PROFILE
    model: str | None = None

    @classmethod
    def of_project(cls, project_settings: ProjectSettings) -> LLMChoice:
        """The choice stored in a project's settings (``llm``: a profile and a model), else the default."""
        stored = project_settings.llm
        if stored is None:
            return cls()
        return cls(stored.profile or DEFAULT_PROFILE, stored.model or None)

    def describe(self, profiles: Mapping[str, LLMProfile]) -> dict[str, Any]:
        """What a project's GET shows: the profile, its provider and the model used (never a URL or key).
        ``provider`` is None when the deployment no longer defines the profile."""
        profile = profiles.get(self.profile)
        if profile is None:
            return {"profile": self.profile, "provider": None, "model": self.model}
        model = None if profile.provider == "none" else self.model or profile.model
        return {"profile": self.profile, "provider": profile.provider, "model": model}


@dataclass(frozen=True, slots=True)
class ProjectLLM:
    """What a project's choice resolves to: the choice, and the LLM to call (None: the profile has no LLM,
    ``provider = "none"``)."""

    choice: LLMChoice
    llm: LLM | None


class UnknownProfile(LookupError):
    """The project selects a profile the deployment does not define (the message names the ones it does)."""


def unknown_profile(name: str, profiles: Mapping[str, LLMProfile]) -> str:
    """The message for a profile the deployment does not define."""
    return f"Unknown LLM profile {name!r}; this deployment defines: {', '.join(sorted(profiles))}."
