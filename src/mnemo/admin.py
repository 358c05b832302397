"""Administrative commands: ``mnemo keys`` and ``mnemo events``."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import timedelta

from mnemo.domain.events import EventStatus
from mnemo.domain.members import normal_email
from mnemo.runtime import database_url, describe_database, open_database
from mnemo.settings import Settings
from mnemo.storage import AccountStore, JobQueue


async def keys_command(settings: Settings, args: argparse.Namespace) -> int:
    print(f"mnemo: using {describe_database(settings)}", file=sys.stderr)
    async with database_url(settings, stop_embedded=False, existing=True) as url, open_database(settings, url) as db:
        accounts = AccountStore(db)
        if args.keys_command == "create" and args.member is not None:
            return await _create_member_key(accounts, args)
        if args.keys_command == "create":
            project = await accounts.ensure_project(args.project)
            key = await accounts.create_key(project, name=args.name, read_only=args.read_only)
            print(f"project: {project}")
            print(key)
            return 0
        if args.keys_command == "list":
            keys = await accounts.list_keys()
            if not keys:
                print("no API keys yet: create one with `mnemo keys create`", file=sys.stderr)
            for info in keys:
                state = f"revoked {info.revoked_at.isoformat()}" if info.revoked_at else "active"
                mode = "read-only" if info.read_only else "read-write"
                member = f"member {info.member_email}" if info.member_email else "project key"
                print(f"{info.id}  {info.project_id}  {info.prefix}…  {mode}  {member}  {state}  {info.name or ''}")
            return 0
        key_id = _uuid(args.key_id, "key id")
        if await accounts.revoke_key(key_id):
            print(f"revoked {key_id}")
            return 0
        print(f"error: no active key with id {key_id}", file=sys.stderr)
        return 1


async def _create_member_key(accounts: AccountStore, args: argparse.Namespace) -> int:
    """A key of the member ``--member``: it carries the member's role (READER: read-only) at every request."""
    email = normal_email(args.member)
    if args.project is not None and not await accounts.project_exists(args.project):
        print(f"error: no project {args.project}", file=sys.stderr)
        return 1
    project = args.project or await accounts.ensure_project()
    issued = await accounts.create_member_key(project, email, name=args.name, read_only=args.read_only)
    if issued is None:
        print(
            f"error: {email} is not a member of project {project}; add them first"
            " (client.project.add_member, or POST .../projects/{project}/members/)",
            file=sys.stderr,
        )
        return 1
    key, role = issued
    print(f"project: {project}")
    print(f"member: {email} ({role.value}{', key read-only' if args.read_only else ''})")
    print(key)
    return 0


async def events_command(settings: Settings, args: argparse.Namespace) -> int:
    event_id = _uuid(args.event_id, "event id")
    print(f"mnemo: using {describe_database(settings)}", file=sys.stderr)
    async with database_url(settings, stop_embedded=False, existing=True) as url, open_database(settings, url) as db:
        event = await JobQueue(db, "cli", lease=timedelta(seconds=60)).retry_failed(event_id)
    if event is None:
        print(f"error: no event {event_id}", file=sys.stderr)
        return 1
    if event.status is not EventStatus.PENDING:
        print(f"error: event {event_id} is {event.status.value}, only FAILED events can be retried", file=sys.stderr)
        return 1
    print(f"queued {event_id} again")
    return 0


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise SystemExit(f"error: {raw!r} is not a valid {what}") from None
