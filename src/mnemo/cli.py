"""The ``mnemo`` command: serve, worker, keys, events, mcp, and the operating commands (:mod:`mnemo.ops`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import Any

from pydantic import SecretStr

from mnemo.embedded_db import DataDirInUse, DataDirLock, DataDirVersionMismatch, EmbeddedStartFailed, NoDatabase
from mnemo.errors import MnemoError
from mnemo.observability import configure_logging, metrics
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


def _configure_logging(settings: Settings) -> None:
    """Logs (text or JSON lines on stderr, the access log) and whether this process records metrics."""
    configure_logging(settings.log_level, fmt=settings.log_format, access_log=settings.access_log)
    if not settings.metrics:
        metrics.disable()


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
    create.add_argument(
        "--member", metavar="EMAIL", help="issue the key to this project member: it carries the member's role"
    )
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

    mcp = commands.add_parser("mcp", help="serve MCP over stdio (for desktop agents)")
    _add_common(mcp)
    mcp.add_argument("--url", help="a running mnemo serve (e.g. http://127.0.0.1:8000); else run on the data dir")
    mcp.add_argument("--api-key", help="the key the tools use (MNEMO_API_KEY)")
    mcp.add_argument("--user-id", help="the user of calls that name none (MNEMO_MCP_DEFAULT_USER_ID)")
    _add_ops_commands(commands)
    return parser


def _add_ops_commands(commands: Any) -> None:
    backup = commands.add_parser("backup", help="write a consistent backup of the database to FILE (while serving)")
    _add_common(backup)
    backup.add_argument("file", help="the backup file to write (pg_dump custom format)")
    restore = commands.add_parser("restore", help="restore a backup; the target must hold no data unless --force")
    _add_common(restore)
    restore.add_argument("file", help="a file written by `mnemo backup`")
    restore.add_argument("--force", action="store_true", help="replace whatever the target database holds")
    imports = commands.add_parser("import", help="copy memories in from a Mem0-compatible API or a JSON file")
    _add_common(imports)
    imports.add_argument("source", help="the API's URL (e.g. https://api.mem0.ai) or a JSON file of memories")
    imports.add_argument("--api-key", help="the source API's key (MEM0_API_KEY)")
    imports.add_argument("--project", help="project id (created if new; default: the default project)")
    reembed = commands.add_parser(
        "reembed", help="compute every memory's vector again with the configured embedder (no serve running)"
    )
    _add_common(reembed)
    reembed.add_argument("--force", action="store_true", help="re-embed even when the vectors are already this model's")
    reembed.add_argument("--batch-size", type=int, default=256, help="memories read and stored at a time")


#: Failures the user can act on from their message alone: one line on stderr, exit code 2.
_ONE_LINE_ERRORS = (
    DataDirInUse,
    DataDirVersionMismatch,
    EmbeddedStartFailed,
    VectorSpaceMismatch,
    NoDatabase,
    ConfigError,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    try:
        if args.command == "serve":
            from mnemo.server import serve

            with _embedded_lock(settings):
                return _run(serve(settings))
        if args.command == "worker":
            from mnemo.server import run_workers_only

            return _run(run_workers_only(settings))
        if args.command == "mcp":
            return _mcp(settings, args)
        if args.command in ("backup", "restore", "import", "reembed"):
            from mnemo import ops

            command = {
                "backup": ops.backup_command,
                "restore": ops.restore_command,
                "import": ops.import_command,
                "reembed": ops.reembed_command,
            }
            return _run(command[args.command](settings, args))
        if args.command == "keys":
            from mnemo.admin import keys_command

            return _run(keys_command(settings, args))
        from mnemo.admin import events_command

        return _run(events_command(settings, args))
    except _ONE_LINE_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MnemoError as exc:  # e.g. the database refused the connection
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2


def _mcp(settings: Settings, args: argparse.Namespace) -> int:
    from mnemo.mcp import remote_api, serve_stdio

    key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not key:
        print("error: mnemo mcp needs an API key: --api-key or MNEMO_API_KEY", file=sys.stderr)
        return 2
    user = args.user_id or settings.mcp_default_user_id
    if args.url is not None:
        return _run(serve_stdio(lambda: remote_api(args.url, key), default_user_id=user))
    local = settings.model_copy(update={"api_key": SecretStr(key)})
    with _embedded_lock(settings):
        return _run(serve_stdio(lambda: _local_api(local, key), default_user_id=user))


def _embedded_lock(settings: Settings) -> AbstractContextManager[object]:
    """The data-dir lock of a process that runs the service: it guards the embedded database only, so a process
    on an external database (``--database-url``) takes none."""
    return nullcontext() if settings.database_url is not None else DataDirLock(settings.data_dir.expanduser())


@asynccontextmanager
async def _local_api(settings: Settings, key: str) -> AsyncIterator[Any]:
    """``mnemo mcp`` without ``--url``: the service (and its workers) in this process, as ``serve`` runs it; the
    key is ensured for the default project, as ``MNEMO_API_KEY`` is by ``serve``."""
    from mnemo.http.app import create_app
    from mnemo.mcp import in_process_api
    from mnemo.runtime import build_worker, database_url, open_database, open_services
    from mnemo.server import bootstrap_keys, settle_heap
    from mnemo.storage import AccountStore

    async with database_url(settings) as url, open_database(settings, url) as db:
        await bootstrap_keys(AccountStore(db), settings)
        async with open_services(settings, db) as services:
            stop = asyncio.Event()
            workers = asyncio.create_task(build_worker(services).run(stop)) if settings.run_workers else None
            try:
                async with in_process_api(create_app(services), key) as api:
                    settle_heap()  # as serve does before its first request
                    yield api
            finally:
                stop.set()
                if workers is not None:
                    await workers


def _run(coro: Any) -> int:
    """Run a command's coroutine on uvloop where it is installed (uvicorn's ``standard`` extra brings it; it
    takes a few hundred microseconds of event-loop work off every request), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # e.g. Windows, which uvloop does not support
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        result: int = runner.run(coro)
    return result
