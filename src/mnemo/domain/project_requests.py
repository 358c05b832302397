"""Request bodies of the project, member and organisation routes (spec §1.2, §2.6)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, model_validator

from mnemo.domain.members import MemberRole, email_problem, normal_email
from mnemo.domain.requests import LLMChoiceBody, ProjectName, RequestBody

#: The longest project description, custom instructions or setting text.
MAX_TEXT_CHARS = 20_000


def _email(value: str) -> str:
    problem = email_problem(value.strip())
    if problem is not None:
        raise ValueError(problem)
    return normal_email(value)


def _role(value: str) -> MemberRole:
    try:
        return MemberRole(value)
    except ValueError:
        roles = " or ".join(repr(role.value) for role in MemberRole)
        raise ValueError(f"role must be {roles}; got {value!r}") from None


Email = Annotated[str, AfterValidator(_email)]
Role = Annotated[str, AfterValidator(_role)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ProjectCreateBody(RequestBody):
    name: ProjectName
    description: Text | None = None


#: Keys a PATCH may carry besides the settings: the Python client adds the ids of the project it addresses.
ADDRESS_KEYS = ("org_id", "project_id")


class ProjectUpdateBody(RequestBody):
    """PATCH of a project: every setting the clients send (spec §2.6). An unknown key is a 400, so a misspelt
    setting is never silently ignored."""

    name: ProjectName | None = None
    description: Text | None = None
    custom_instructions: Text | None = None
    agent_custom_instructions: Text | None = None
    custom_categories: list[dict[str, str]] | list[str] | None = None
    multilingual: bool | None = None
    llm: LLMChoiceBody | None = None
    decay: bool | None = None
    memory_depth: ShortText | None = None
    usecase_setting: Text | int | float | None = None
    version: ShortText | None = None
    enable_graph: bool | None = None
    org_id: str | None = None
    project_id: str | None = None

    @model_validator(mode="after")
    def _known_keys(self) -> ProjectUpdateBody:
        unknown = sorted(self.model_extra or {})
        if unknown:
            known = ", ".join(name for name in type(self).model_fields if name not in ADDRESS_KEYS)
            raise ValueError(f"{unknown[0]!r} is not a project setting; the settings are {known}")
        return self

    def settings_sent(self) -> dict[str, Any]:
        """The settings this PATCH sets (nulls included), without the address keys."""
        return {name: getattr(self, name) for name in self.model_fields_set if name not in ADDRESS_KEYS}


class MemberBody(RequestBody):
    """PUT of a member: the email and the new role."""

    email: Email
    role: Role

    @property
    def member_role(self) -> MemberRole:
        return MemberRole(self.role)


class NewMemberBody(MemberBody):
    """POST of a member; the role defaults to READER, as the clients' does."""

    role: Role = MemberRole.READER.value
