"""Tenant isolation, in one place: every statement on a tenant table is built by a :class:`TenantGuard`.

A guard belongs to one project. :meth:`TenantGuard.sql` refuses a template that names no project and
fills ``{tenant}`` (the row predicate ``project_id = '<id>'``) and ``{project}`` (the id itself) with
its project, so a repository cannot forget the scope and no caller ever passes a project id to a query.
Templates are ``LiteralString``: values reach the database only as parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import LiteralString, TypeVar

from psycopg import sql

_T = TypeVar("_T")

#: Rows per multi-row INSERT: a statement takes at most 65,535 parameters.
ROWS_PER_INSERT = 1000


def in_parts(rows: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``rows`` in consecutive parts of at most :data:`ROWS_PER_INSERT`: one multi-row insert each."""
    for start in range(0, len(rows), ROWS_PER_INSERT):
        yield rows[start : start + ROWS_PER_INSERT]


def project_rows(count: int, width: int) -> LiteralString:
    """The ``VALUES`` list of a multi-row insert into a tenant table: ``count`` rows, each the project id
    (``{project}``, filled by :meth:`TenantGuard.sql`) and ``width`` parameters."""
    row = "({project}, " + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


class TenantGuard:
    """Builds the statements of one project's repositories."""

    __slots__ = ("_project", "_tenant", "project_id")

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self._project = sql.Literal(project_id)
        self._tenant = sql.SQL("project_id = {}").format(self._project)

    def sql(self, template: LiteralString, **parts: sql.Composable) -> sql.Composed:
        """``template`` with ``{tenant}`` as the row predicate and ``{project}`` as the id; other ``{name}``
        fields are filled from ``parts``. A template naming neither is a bug and is refused."""
        if "{tenant}" not in template and "{project}" not in template:
            raise AssertionError("tenant-table statement names no project")
        return sql.SQL(template).format(tenant=self._tenant, project=self._project, **parts)
