"""Restore of a backup (:mod:`.backup`) with PostgreSQL's own client tools.

:func:`restore` turns the archive into SQL with ``pg_restore`` and feeds it to ``psql`` inside one
transaction that first checks the target holds no data (unless told to replace it) and drops the tables of
its ``public`` schema; the transaction is committed only when pg_restore read the whole archive. The target
ends as the backup, or as it was.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

from mnemo.storage.backup import (
    NOT_DATA,
    BackupError,
    BackupRefused,
    Progress,
    Tools,
    inspect,
    pick_tools,
    summarize,
    tool_client,
    watch_stderr,
)

_RESTORING = re.compile(r'processing data for table "public\.([^"]+)"')
_REFUSED = "mnemo restore: the target holds data in table"


async def archive_tables(tools: Tools, file: Path) -> int:
    """How many tables' data ``file`` holds; refuses a file that is not an archive of a mnemo database."""
    process = await asyncio.create_subprocess_exec(
        tools.path("pg_restore"), "--list", str(file), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        why = err.decode("utf-8", errors="replace").strip().splitlines()
        raise BackupRefused(
            f"{file} is not a backup pg_restore {tools.major} can read ({why[0] if why else 'no reason given'}):"
            " give a file written by `mnemo backup`"
        )
    toc = out.decode("utf-8", errors="replace")
    if not re.search(r" TABLE public memories ", toc) or not re.search(r" TABLE public mnemo_schema_migrations ", toc):
        raise BackupRefused(f"{file} is a PostgreSQL archive but not a mnemo backup (it has no memories table)")
    return len(re.findall(r"^\d+; \d+ \d+ TABLE DATA public ", toc, flags=re.MULTILINE))


def _preamble(replace: bool) -> bytes:
    """Opens the restore's transaction: refuses a target holding data (unless ``replace``), then drops the
    tables of its ``public`` schema. Tables are locked before they are checked, so no write slips in between."""
    not_data = ", ".join(f"'{table}'" for table in NOT_DATA)
    return (
        "BEGIN;\nSET client_min_messages = warning;\n"
        "DO $mnemo$ DECLARE t text; has_rows boolean; BEGIN\n"
        "  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP\n"
        "    EXECUTE format('LOCK TABLE public.%I IN ACCESS EXCLUSIVE MODE', t);\n  END LOOP;\n"
        f"  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ({not_data})"
        f" AND NOT {'true' if replace else 'false'} LOOP\n"
        "    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I)', t) INTO has_rows;\n"
        f"    IF has_rows THEN RAISE EXCEPTION '{_REFUSED} %', t; END IF;\n  END LOOP;\n"
        "  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP\n"
        "    EXECUTE format('DROP TABLE IF EXISTS public.%I CASCADE', t);\n  END LOOP;\n"
        # The schema's own functions (its triggers'), not those of extensions (pgvector's): the archive makes them.
        "  FOR t IN SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP\n"
        "    EXECUTE 'DROP FUNCTION IF EXISTS ' || t || ' CASCADE';\n  END LOOP;\n"
        "END $mnemo$;\n"
    ).encode()


async def _feed(
    source: asyncio.StreamReader,
    reader: asyncio.subprocess.Process,
    sink: asyncio.StreamWriter,
    *,
    head: bytes,
    old: bool,
) -> bool:
    """Pipe pg_restore's script into psql after ``head``; COMMIT only when pg_restore read the whole archive.
    For a server older than 17, the script's ``SET transaction_timeout`` (unknown there) is left out. Returns
    whether pg_restore ran to its end (False: psql stopped first, and pg_restore was stopped)."""
    header: bytes | None = b""
    try:
        sink.write(head)
        while chunk := await source.read(1 << 16):
            if header is not None:  # the script's SETs come before its first CREATE
                header += chunk
                if b"CREATE" not in header and len(header) < 1 << 16:
                    continue
                chunk, header = _compatible(header, old), None
            sink.write(chunk)
            await sink.drain()
        if header:
            sink.write(_compatible(header, old))
        if await reader.wait() == 0:
            sink.write(b"COMMIT;\n")
        await sink.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # psql stopped at an error: it says which
    finally:
        sink.close()
    if reader.returncode is None:
        reader.kill()
        await reader.wait()
        return False
    return True


def _compatible(header: bytes, old: bool) -> bytes:
    return header.replace(b"\nSET transaction_timeout = 0;\n", b"\n", 1) if old else header


async def restore(url: str, file: Path, *, replace: bool, progress: Progress) -> None:
    """Restore ``file`` into the database at ``url`` in one transaction; a target holding data is refused
    (:class:`BackupRefused`) unless ``replace``. The caller brings the schema current afterwards."""
    target = await inspect(url)
    if target.holding_data and not replace:
        raise BackupRefused(_not_empty(target.holding_data))
    tools = pick_tools(target.major)
    total = await archive_tables(tools, file)
    conninfo, env = tool_client(url)
    done = 0

    def on_line(line: str) -> None:
        nonlocal done
        if found := _RESTORING.search(line):
            done += 1
            progress(min(done, total), total, found.group(1))
        elif "creating INDEX" in line or "creating CONSTRAINT" in line:
            progress(done, total, "indexes")

    reader = await asyncio.create_subprocess_exec(
        tools.path("pg_restore"),
        "--verbose",
        "--no-owner",
        "--no-privileges",
        "--no-comments",
        "--file=-",
        str(file),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        limit=1 << 24,
    )
    psql = await asyncio.create_subprocess_exec(
        tools.path("psql"),
        "--no-psqlrc",
        "--quiet",
        "--set=ON_ERROR_STOP=1",
        "--file=-",
        f"--dbname={conninfo}",
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        limit=1 << 24,
    )
    assert reader.stdout is not None and psql.stdin is not None
    ran_to_end, read_errors, write_errors = await asyncio.gather(
        _feed(reader.stdout, reader, psql.stdin, head=_preamble(replace), old=target.major < 17),
        watch_stderr(reader.stderr, on_line),
        watch_stderr(psql.stderr, lambda line: None),
    )
    read_code, write_code = await reader.wait(), await psql.wait()
    refused = [line for line in write_errors if _REFUSED in line]
    if refused:
        raise BackupRefused(_not_empty([refused[0].rsplit(" ", 1)[-1]]))
    if ran_to_end and read_code != 0:
        raise BackupError(
            f"pg_restore could not read {file}, nothing was restored: {summarize(read_errors, read_code)}"
        )
    if write_code != 0:
        raise BackupError(f"the restore failed and was rolled back: {summarize(write_errors, write_code)}")
    progress(total, total, "done")


def _not_empty(tables: list[str]) -> str:
    return (
        f"the target database already holds data ({', '.join(tables)}): restore into an empty data directory or"
        " database, or pass --force to replace everything in it"
    )
