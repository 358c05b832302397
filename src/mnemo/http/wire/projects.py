"""The answers of the project, member and organisation routes (spec §1.2, §2.6) beyond :class:`wire.Project`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, create_model

from mnemo.http.wire import Project, _Wire

_OPTIONAL: dict[str, Any] = {
    name: (info.annotation, Field(default=None, description=info.description))
    for name, info in Project.model_fields.items()
}
#: GET project with ``fields``: only the keys named.
ProjectFields: type[_Wire] = create_model(
    "ProjectFields",
    __base__=_Wire,
    __doc__="A project: every key of Project, or with `fields` only those named.",
    **_OPTIONAL,
)


class ProjectCreated(_Wire):
    message: str
    project_id: str
    api_key: str = Field(
        description="mnemo addition: a key of the new project (no member, read-write), shown once; a client"
        " built with it addresses the new project"
    )


class Member(_Wire):
    username: str = Field(description="the email (mnemo knows members by email only)")
    email: str
    role: Literal["READER", "OWNER"]


class Members(_Wire):
    members: list[Member]


class Organization(_Wire):
    org_id: str
    name: str
    created_at: datetime


Organizations = list[Organization]
