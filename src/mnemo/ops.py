"""Operating commands: ``mnemo backup``, ``mnemo restore``, ``mnemo import`` and ``mnemo reembed``.

Each works on the database the settings name: the embedded one (attached to while ``serve`` runs, else
started and stopped here) or ``--database-url``. Progress goes to stderr, the outcome to stdout; a
refusal is one line on stderr and exit code 2, a failure exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

from mnemo.embedded_db import DataDirLock
from mnemo.pipeline.extraction import Message
from mnemo.pipeline.import_sources import ApiSource, FileSource, Source, SourceError
from mnemo.pipeline.importer import Importer, ImportReport
from mnemo.pipeline.in_context import ContextEmbedder, Target, told_text
from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.runtime import build_embedder, database_url, describe_database, open_database
from mnemo.settings import Settings
from mnemo.storage import AccountStore, Database, claim_vector_space, migrate
from mnemo.storage.backup import BackupError, BackupRefused, analyze, dump
from mnemo.storage.deployment import VectorSpace, record_vector_space, recorded_vector_space
from mnemo.storage.pending_vectors import forget_pending_vectors
from mnemo.storage.reembed import count_memories, memories_in_conversation_order, store_vectors
from mnemo.storage.restore import restore
from mnemo.storage.vector_index import drop_vector_index


class ProgressBar:
    """One line redrawn in place on a terminal; elsewhere (logs, pipes) a line every few seconds."""

    def __init__(self, label: str, stream: TextIO | None = None, *, width: int = 30) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._shown = 0.0

    def update(self, done: int, total: int | None, note: str = "", *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown < (0.1 if self.tty else 5.0):
            return
        self._shown = now
        if total:
            filled = self.width * min(done, total) // total
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}"
        else:
            bar = f"{done}"
        line = f"{self.label} {bar} {note}".rstrip()
        if self.tty:
            self.stream.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def table(self, done: int, total: int, what: str) -> None:
        """The shape :mod:`mnemo.storage.backup` reports progress in."""
        self.update(done, total, what, final=what == "done")


def _refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


async def backup_command(settings: Settings, args: argparse.Namespace) -> int:
    file = Path(args.file).expanduser()
    if file.is_dir() or not file.parent.is_dir():
        return _refuse(f"cannot write {file}: give a file in an existing directory")
    print(f"mnemo: backing up {describe_database(settings)}", file=sys.stderr)
    try:
        async with database_url(settings, stop_embedded=False, existing=True) as url:
            size = await dump(url, file, ProgressBar("backup").table)
    except BackupRefused as exc:
        return _refuse(str(exc))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {file} ({size:,} bytes)")
    return 0


async def restore_command(settings: Settings, args: argparse.Namespace) -> int:
    file = Path(args.file).expanduser()
    if not file.is_file():
        return _refuse(f"no backup file {file}: give a file written by `mnemo backup`")
    print(f"mnemo: restoring into {describe_database(settings)}", file=sys.stderr)
    # The embedded database: no `serve` may use it meanwhile (a running one makes this refuse).
    embedded = settings.database_url is None
    with DataDirLock(settings.data_dir.expanduser()) if embedded else contextlib.nullcontext():
        try:
            async with database_url(settings, stop_embedded=False) as url:
                await restore(url, file, replace=args.force, progress=ProgressBar("restore").table)
                applied = await migrate(url)
                await analyze(url)
        except BackupRefused as exc:
            return _refuse(str(exc))
        except BackupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    upgraded = f"; schema brought current (migrations {', '.join(map(str, applied))})" if applied else ""
    print(f"restored {file}{upgraded}")
    return 0


def _source(args: argparse.Namespace) -> Source | str:
    """The source the arguments name, or why they name none."""
    where: str = args.source
    if where.startswith(("http://", "https://")):
        key = args.api_key or os.environ.get("MEM0_API_KEY")
        if not key:
            return f"importing from {where} needs its API key: pass --api-key KEY (or set MEM0_API_KEY)"
        return ApiSource(where, key)
    path = Path(where).expanduser()
    if not path.is_file():
        return f"no file {path}: give a JSON file of memories, or the http(s) URL of a Mem0-compatible API"
    try:
        return FileSource(path)
    except SourceError as exc:
        return str(exc)


async def import_command(settings: Settings, args: argparse.Namespace) -> int:
    source = _source(args)
    if isinstance(source, str):
        return _refuse(source)
    print(f"mnemo: importing into {describe_database(settings)}", file=sys.stderr)
    bar = ProgressBar("import")

    def progress(report: ImportReport, total: int | None) -> None:
        bar.update(report.read, total, f"{report.written} written, {report.existing} already there")

    try:
        async with (
            database_url(settings, stop_embedded=False, existing=True) as url,
            open_database(settings, url) as db,
        ):
            project = await AccountStore(db).ensure_project(args.project)
            embedder = build_embedder(settings)
            await claim_vector_space(db, embedder.vector_space, embedder.dimensions)
            batcher = EmbeddingBatcher(embedder, max_batch=settings.embedder_max_batch)
            batcher.start()
            try:
                report = await Importer(db, project, batcher).run(source, progress)
            finally:
                await batcher.close()
    except SourceError as exc:
        print(f"error: {exc} (what was imported stays; run the same import again to resume)", file=sys.stderr)
        return 1
    finally:
        await source.aclose()
    bar.update(report.read, report.read, f"{report.written} written", final=True)
    for problem in report.problems:
        print(f"warning: skipped {problem}", file=sys.stderr)
    print(
        f"imported {report.written} memories into project {project}: {report.existing} already there,"
        f" {report.duplicates} duplicates of a memory of the same scope, {report.invalid} invalid (of {report.read})"
    )
    return 1 if report.invalid else 0


async def reembed_command(settings: Settings, args: argparse.Namespace) -> int:
    """Every memory's vector computed again with the configured embedder, which the deployment then records.

    A memory is embedded as an add embeds a message: what it tells (with its speaker; ``told_text``) followed by the
    ``embedding_context_messages`` memories said just before it in its conversation. No process may write meanwhile:
    the embedded database is locked, and processes that start on a database being re-embedded refuse to; stop the
    others first. An interrupted run leaves the database refusing every process until it is run again.
    """
    if args.batch_size < 1:
        return _refuse("--batch-size must be at least 1")
    print(f"mnemo: re-embedding the memories of {describe_database(settings)}", file=sys.stderr)
    embedded = settings.database_url is None
    with DataDirLock(settings.data_dir.expanduser()) if embedded else contextlib.nullcontext():
        async with (
            database_url(settings, stop_embedded=False, existing=True) as url,
            open_database(settings, url) as db,
        ):
            embedder = build_embedder(settings)
            target = VectorSpace(embedder.vector_space, embedder.dimensions)
            recorded = await recorded_vector_space(db)
            if recorded == target and not args.force:
                print(f"the memories already hold vectors of {target.space}: nothing to do (--force re-embeds them)")
                return 0
            try:  # an embedder that cannot embed is found before the database is marked
                await asyncio.to_thread(embedder.embed, [embedder.passage_prefix + "mnemo"])
            except EmbedderUnavailable as exc:
                return _refuse(f"the configured embedder cannot embed ({exc}); the database was not changed")
            await record_vector_space(db, VectorSpace(target.space, target.dimensions, reembedding=True))
            if await drop_vector_index(db):
                print("dropped the HNSW index: serve builds it again at start", file=sys.stderr)
            await forget_pending_vectors(db)
            total = await count_memories(db)
            bar = ProgressBar("reembed")
            batcher = EmbeddingBatcher(embedder, max_batch=settings.embedder_max_batch)
            batcher.start()
            try:
                in_context = ContextEmbedder(batcher, settings.context_mode())
                context = settings.embedding_context_messages
                done = await _reembed_all(db, in_context, context, args.batch_size, bar, total)
            finally:
                await batcher.close()
            await record_vector_space(db, target)
    bar.update(done, total, final=True)
    print(f"re-embedded {done} memories with {embedder.name}")
    return 0


async def _reembed_all(
    db: Database, in_context: ContextEmbedder, context: int, batch: int, bar: ProgressBar, total: int
) -> int:
    """Embed and store every memory, each with the ``context`` memories said just before it; how many there were."""
    done = 0
    said: deque[Message] = deque(maxlen=context)  # the last ``context`` memories of the conversation (none at 0)
    conversation = None
    # Closed before the database stops (an error in between would leave its cursor to the garbage collector).
    async with contextlib.aclosing(memories_in_conversation_order(db, batch=batch)) as stored:
        async for memories in stored:
            targets: list[Target] = []
            for memory in memories:
                if memory.conversation != conversation:
                    conversation = memory.conversation
                    said.clear()
                message = Message("user", memory.memory, memory.speaker)
                targets.append(Target(told_text(memory.memory, memory.speaker)[0], list(said), said=message))
                said.append(message)
            # One offline run over every project, which nobody else can time: the remembered vectors need no project.
            vectors = await in_context.final("", targets)
            await store_vectors(db, memories, list(vectors))
            done += len(memories)
            bar.update(done, total)
    return done
