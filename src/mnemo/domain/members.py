"""Project members: an email address and a role (spec §1.2 rows 22–25).

A role means something: a key issued to a member (``mnemo keys create --member EMAIL``) has the member's
powers at each request, so changing the role changes what the member's existing keys may do.
"""

from __future__ import annotations

import enum

#: The longest email address (RFC 5321 path limit).
MAX_EMAIL_CHARS = 254


class MemberRole(enum.StrEnum):
    #: reads only: every route that writes answers 403
    READER = "READER"
    #: reads and writes, manages the project's settings and members, creates and deletes projects
    OWNER = "OWNER"


def email_problem(value: str) -> str | None:
    """What keeps ``value`` from being a member's email address, or None."""
    if not value:
        return "must not be empty"
    if len(value) > MAX_EMAIL_CHARS:
        return f"has {len(value)} characters; at most {MAX_EMAIL_CHARS} are allowed"
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or "." not in domain.strip(".") or domain.startswith("."):
        return f"{value!r} is not an email address (expected name@domain.tld)"
    if not value.isprintable() or " " in value:
        return f"{value!r} is not an email address (no spaces or control characters)"
    return None


def normal_email(value: str) -> str:
    """The form an email is stored and compared in: surrounding whitespace dropped, lower case."""
    return value.strip().lower()
