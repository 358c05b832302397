"""Everything a project owns: memories, their history, events and entities.

Tenant isolation lives here, in one place: every statement is built by :meth:`ProjectStore._sql`,
which refuses a template without the ``{tenant}`` predicate and fills it with this store's project.
Callers never pass a project id to a query.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, LiteralString

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg.types.multirange import Multirange
from psycopg.types.range import Range

from mnemo.domain.memories import MemoryRecord, Scope
from mnemo.storage.database import Database

Conn = psycopg.AsyncConnection[dict[str, Any]]

MEMORY_COLUMNS: LiteralString = (
    "id, user_id, agent_id, app_id, run_id, memory, hash, metadata, categories, immutable,"
    " expiration_date, attributed_to, actor_name, replaced_by, state, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory about to be inserted."""

    scope: Scope
    text: str
    hash: str
    embedding: np.ndarray[Any, np.dtype[np.float32]]
    metadata: dict[str, Any] | None
    created_at: datetime
    categories: Sequence[str] = ()
    immutable: bool = False
    expiration_date: date | None = None
    attributed_to: str | None = None
    actor_name: str | None = None
    entities: Sequence[str] = ()
    dates: Sequence[tuple[date, date]] = ()


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Visibility switches shared by list-shaped reads (search and get-all)."""

    show_expired: bool = False
    latest_only: bool = False


@dataclass(frozen=True, slots=True)
class EventRow:
    id: uuid.UUID
    event_type: str
    status: str
    payload: dict[str, Any]
    metadata: dict[str, Any] | None
    results: list[Any]
    error: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory that may answer a search, with what ranking needs beyond its text."""

    record: MemoryRecord
    similarity: float
    entities: list[str]
    dates: list[tuple[date, date]]


@dataclass(frozen=True, slots=True)
class KeywordMatches:
    """The memories of a scope that share lexemes with a query (input of BM25).

    ``matches`` holds, per memory, its id, its number of distinct lexemes, and the indexes (into the
    query's ``terms`` distinct lexemes) of the lexemes it contains.
    """

    terms: int
    documents: int
    matches: list[tuple[uuid.UUID, int, list[int]]]


def _qualified_columns(alias: LiteralString) -> LiteralString:
    return ", ".join(f"{alias}.{column.strip()}" for column in MEMORY_COLUMNS.split(","))


def record_from_row(row: dict[str, Any]) -> MemoryRecord:
    return MemoryRecord(
        id=row["id"],
        scope=Scope(row["user_id"], row["agent_id"], row["app_id"], row["run_id"]),
        memory=row["memory"],
        hash=row["hash"],
        metadata=row["metadata"],
        categories=list(row["categories"] or []),
        immutable=row["immutable"],
        expiration_date=row["expiration_date"],
        attributed_to=row["attributed_to"],
        actor_name=row["actor_name"],
        replaced_by=row["replaced_by"],
        state=row["state"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(
        record=record_from_row(row),
        similarity=float(row["similarity"]),
        entities=list(row["entities"] or []),
        dates=[_closed(span) for span in (row["dates"] or []) if span.lower and span.upper],
    )


def _multirange(spans: Sequence[tuple[date, date]]) -> Multirange[date] | None:
    if not spans:
        return None
    return Multirange([Range(start, end, "[]") for start, end in spans])


def _closed(span: Range[date]) -> tuple[date, date]:
    """PostgreSQL stores date ranges half-open; callers think in inclusive days."""
    assert span.lower is not None and span.upper is not None
    return span.lower, span.upper if span.upper_inc else span.upper - timedelta(days=1)


_EVENT_COLUMNS: LiteralString = (
    "id, event_type, status, payload, metadata, results, error, attempts,"
    " created_at, updated_at, started_at, completed_at"
)


class ProjectStore:
    """Project-scoped access to the tenant tables. Construct one per request (cheap)."""

    def __init__(self, db: Database, project_id: str) -> None:
        self.db = db
        self.project_id = project_id
        self._project = sql.Literal(project_id)
        self._tenant = sql.SQL("project_id = {}").format(self._project)

    def _sql(self, template: LiteralString, **parts: sql.Composable) -> sql.Composed:
        """Build a statement on tenant tables: ``{tenant}`` is the row predicate, ``{project}`` the id."""
        if "{tenant}" not in template and "{project}" not in template:
            raise AssertionError("tenant-table statement names no project")
        return sql.SQL(template).format(tenant=self._tenant, project=self._project, **parts)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self.db.transaction() as conn:
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self.db.pool.connection() as conn:
            yield conn

    # --- memories: writes ------------------------------------------------------------------

    async def insert_memories(
        self,
        conn: Conn,
        memories: Sequence[NewMemory],
        *,
        event_id: uuid.UUID | None,
        history_input: list[dict[str, Any]] | None,
    ) -> list[MemoryRecord]:
        """Insert memories; exact duplicates of an existing memory in the same scope are skipped.

        Returns only the memories actually inserted, in input order.
        """
        if not memories:
            return []
        statement = self._sql(
            "INSERT INTO memories (project_id, id, user_id, agent_id, app_id, run_id, memory, hash,"
            " metadata, categories, immutable, expiration_date, attributed_to, actor_name, event_id,"
            " embedding, entities, dates, created_at, updated_at)"
            " VALUES ({project}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING " + MEMORY_COLUMNS,
        )
        inserted: list[MemoryRecord] = []
        async with conn.cursor() as cur:
            await cur.executemany(
                statement,
                [
                    (
                        uuid.uuid4(),
                        m.scope.user_id,
                        m.scope.agent_id,
                        m.scope.app_id,
                        m.scope.run_id,
                        m.text,
                        m.hash,
                        Jsonb(m.metadata) if m.metadata is not None else None,
                        list(m.categories),
                        m.immutable,
                        m.expiration_date,
                        m.attributed_to,
                        m.actor_name,
                        event_id,
                        m.embedding,
                        list(m.entities),
                        _multirange(m.dates),
                        m.created_at,
                        m.created_at,
                    )
                    for m in memories
                ],
                returning=True,
            )
            while True:
                row = await cur.fetchone()
                if row is not None:
                    inserted.append(record_from_row(row))
                if not cur.nextset():
                    break
        await self._add_history(conn, [(r, "ADD", None, r.memory) for r in inserted], history_input)
        return inserted

    async def _add_history(
        self,
        conn: Conn,
        changes: Sequence[tuple[MemoryRecord, str, str | None, str | None]],
        history_input: list[dict[str, Any]] | None,
    ) -> None:
        if not changes:
            return
        statement = self._sql(
            "INSERT INTO memory_history (project_id, id, memory_id, event, old_memory, new_memory,"
            " input, user_id, agent_id, app_id, run_id, categories, metadata)"
            " VALUES ({project}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        )
        async with conn.cursor() as cur:
            await cur.executemany(
                statement,
                [
                    (
                        uuid.uuid4(),
                        record.id,
                        event,
                        old,
                        new,
                        Jsonb(history_input) if history_input is not None else None,
                        record.scope.user_id,
                        record.scope.agent_id,
                        record.scope.app_id,
                        record.scope.run_id,
                        record.categories,
                        Jsonb(record.metadata) if record.metadata is not None else None,
                    )
                    for record, event, old, new in changes
                ],
            )

    # --- memories: reads -------------------------------------------------------------------

    def _visibility(self, options: ReadOptions) -> sql.Composable:
        parts: list[sql.Composable] = []
        if not options.show_expired:
            parts.append(sql.SQL("(m.expiration_date IS NULL OR m.expiration_date >= current_date)"))
        if options.latest_only:
            parts.append(sql.SQL("m.replaced_by IS NULL"))
        return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")

    async def get_memory(self, conn: Conn, memory_id: uuid.UUID, *, lock: bool = False) -> MemoryRecord | None:
        statement = self._sql(
            "SELECT " + MEMORY_COLUMNS + " FROM memories m WHERE {tenant} AND m.id = %s {lock}",
            lock=sql.SQL("FOR UPDATE" if lock else ""),
        )
        row = await (await conn.execute(statement, (memory_id,))).fetchone()
        return record_from_row(row) if row else None

    async def list_memories(
        self,
        conn: Conn,
        where: sql.Composable,
        params: Sequence[object],
        options: ReadOptions,
        *,
        offset: int,
        limit: int,
        lock: bool = False,
    ) -> tuple[int, list[MemoryRecord]]:
        """One page of memories matching ``where``, newest first, and the total count. With ``lock``, inside a
        transaction, the page's rows cannot be deleted until it ends (``FOR KEY SHARE``)."""
        count_stmt = self._sql(
            "SELECT count(*) AS n FROM memories m WHERE {tenant} AND ({where}) AND {visible}",
            where=where,
            visible=self._visibility(options),
        )
        row = await (await conn.execute(count_stmt, params)).fetchone()
        total = int(row["n"]) if row else 0
        page_stmt = self._sql(
            "SELECT " + MEMORY_COLUMNS + " FROM memories m WHERE {tenant} AND ({where}) AND {visible}"
            " ORDER BY m.created_at DESC, m.id LIMIT %s OFFSET %s {lock}",
            where=where,
            visible=self._visibility(options),
            lock=sql.SQL("FOR KEY SHARE" if lock else ""),
        )
        rows = await (await conn.execute(page_stmt, [*params, limit, offset])).fetchall()
        return total, [record_from_row(r) for r in rows]

    async def nearest_candidates(
        self,
        conn: Conn,
        vector: np.ndarray[Any, np.dtype[np.float32]],
        where: sql.Composable,
        params: Sequence[object],
        options: ReadOptions,
        *,
        limit: int,
    ) -> list[Candidate]:
        """Memories matching ``where`` ordered by cosine similarity to ``vector`` (best first).

        The exact scan sorts ids and distances only, then fetches the winners' rows: sorting whole
        rows (with their vectors) costs more than the distances themselves.
        """
        statement = self._sql(
            "SELECT {columns}, 1 - near.distance AS similarity, m.entities, m.dates"
            " FROM (SELECT m.id, m.embedding <=> %s AS distance FROM memories m"
            "       WHERE {tenant} AND ({where}) AND {visible} ORDER BY 2 LIMIT %s) near"
            " JOIN memories m ON m.id = near.id AND m.{tenant} ORDER BY near.distance, m.id",
            columns=sql.SQL(_qualified_columns("m")),
            where=where,
            visible=self._visibility(options),
        )
        rows = await (await conn.execute(statement, [vector, *params, limit])).fetchall()
        return [_candidate(row) for row in rows]

    async def keyword_matches(
        self,
        conn: Conn,
        query: str,
        where: sql.Composable,
        params: Sequence[object],
        options: ReadOptions,
    ) -> KeywordMatches:
        """Every memory in scope sharing a stemmed lexeme with ``query``: which lexemes, and its length.

        The GIN index on ``tsv`` finds the matches; ``documents`` counts the scope for IDF (visibility
        aside, so the count can come from an index alone).
        """
        statement = self._sql(
            "WITH terms AS MATERIALIZED ("
            "  SELECT coalesce(array_agg(quote_literal(t)::tsquery ORDER BY t), '{{}}') AS each,"
            "         nullif(replace(plainto_tsquery('english', %s)::text, ' & ', ' | '), '')::tsquery AS q"
            "  FROM unnest(tsvector_to_array(to_tsvector('english', %s))) t)"
            " SELECT cardinality(terms.each) AS terms,"
            "  (SELECT count(*) FROM memories m WHERE {tenant} AND ({where})) AS documents,"
            "  matched.id, matched.length, matched.hits"
            " FROM terms LEFT JOIN LATERAL ("
            "  SELECT m.id, length(m.tsv) AS length,"
            "   ARRAY(SELECT i - 1 FROM generate_subscripts(terms.each, 1) i WHERE m.tsv @@ terms.each[i]) AS hits"
            "  FROM memories m WHERE {tenant} AND ({where}) AND {visible} AND m.tsv @@ terms.q) matched ON TRUE",
            where=where,
            visible=self._visibility(options),
        )
        # Plain tuples: a broad query matches hundreds of rows, and dicts would cost more than the SQL.
        async with conn.cursor(row_factory=tuple_row) as cursor:
            rows = await (await cursor.execute(statement, [query, query, *params, *params])).fetchall()
        terms, documents = rows[0][0], rows[0][1]
        return KeywordMatches(
            terms=int(terms),
            documents=int(documents),
            matches=[(row[2], row[3], row[4]) for row in rows if row[2] is not None],
        )

    async def candidates_by_id(
        self, conn: Conn, ids: Sequence[uuid.UUID], vector: np.ndarray[Any, np.dtype[np.float32]]
    ) -> list[Candidate]:
        """The rows of ``ids`` (those that exist) with their similarity to ``vector``."""
        statement = self._sql(
            "SELECT " + MEMORY_COLUMNS + ", 1 - (m.embedding <=> %s) AS similarity, m.entities, m.dates"
            " FROM memories m WHERE {tenant} AND m.id = ANY(%s)"
        )
        rows = await (await conn.execute(statement, [vector, list(ids)])).fetchall()
        return [_candidate(row) for row in rows]

    async def history(self, conn: Conn, memory_id: uuid.UUID) -> list[dict[str, Any]]:
        statement = self._sql(
            "SELECT id, memory_id, event, old_memory, new_memory, input, user_id, agent_id, app_id,"
            " run_id, categories, metadata, created_at FROM memory_history"
            " WHERE {tenant} AND memory_id = %s ORDER BY created_at, id"
        )
        return await (await conn.execute(statement, (memory_id,))).fetchall()

    async def entities(self, conn: Conn) -> list[dict[str, Any]]:
        """Every user, agent, app and run that owns at least one memory."""
        parts = [
            self._sql(
                "SELECT {kind} AS type, {column} AS name, min(created_at) AS created_at,"
                " max(updated_at) AS updated_at, count(*) AS total_memories FROM memories"
                " WHERE {tenant} AND {column} IS NOT NULL GROUP BY {column}",
                kind=sql.Literal(kind),
                column=sql.Identifier(f"{kind}_id"),
            )
            for kind in ("user", "agent", "app", "run")
        ]
        statement = sql.SQL(" UNION ALL ").join(parts) + sql.SQL(" ORDER BY created_at DESC, name")
        return await (await conn.execute(statement)).fetchall()

    # --- memories: changes -----------------------------------------------------------------

    async def update_memory(
        self,
        conn: Conn,
        current: MemoryRecord,
        *,
        text: str | None,
        text_hash: str | None,
        embedding: np.ndarray[Any, np.dtype[np.float32]] | None,
        entities: Sequence[str] | None,
        dates: Sequence[tuple[date, date]] | None,
        metadata: dict[str, Any] | None,
        set_metadata: bool,
        expiration_date: date | None,
        set_expiration: bool,
        created_at: datetime | None,
    ) -> MemoryRecord:
        """Apply an update to a memory locked by the caller (``get_memory(lock=True)``)."""
        statement = self._sql(
            "UPDATE memories m SET memory = coalesce(%s, memory), hash = coalesce(%s, hash),"
            " embedding = coalesce(%s, embedding), entities = coalesce(%s, entities),"
            " dates = CASE WHEN %s THEN %s ELSE dates END,"
            " metadata = CASE WHEN %s THEN %s ELSE metadata END,"
            " expiration_date = CASE WHEN %s THEN %s ELSE expiration_date END,"
            " created_at = coalesce(%s, created_at), updated_at = clock_timestamp()"
            " WHERE {tenant} AND m.id = %s RETURNING " + MEMORY_COLUMNS
        )
        row = await (
            await conn.execute(
                statement,
                (
                    text,
                    text_hash,
                    embedding,
                    list(entities) if entities is not None else None,
                    dates is not None,
                    _multirange(dates or ()),
                    set_metadata,
                    Jsonb(metadata) if metadata is not None else None,
                    set_expiration,
                    expiration_date,
                    created_at,
                    current.id,
                ),
            )
        ).fetchone()
        assert row is not None
        updated = record_from_row(row)
        await self._add_history(conn, [(updated, "UPDATE", current.memory, updated.memory)], None)
        return updated

    async def delete_memories(self, conn: Conn, where: sql.Composable, params: Sequence[object]) -> list[uuid.UUID]:
        """Inside the caller's transaction: delete every memory matching ``where``, recording a DELETE in each
        one's history, and every export holding one of them (an export keeps no deleted memory)."""
        statement = self._sql(
            "WITH gone AS (DELETE FROM memories m WHERE {tenant} AND ({where})"
            " RETURNING id, memory, user_id, agent_id, app_id, run_id, categories, metadata)"
            " INSERT INTO memory_history (project_id, id, memory_id, event, old_memory, new_memory,"
            " user_id, agent_id, app_id, run_id, categories, metadata)"
            " SELECT {project}, gen_random_uuid(), id, 'DELETE', memory, NULL, user_id, agent_id, app_id,"
            " run_id, categories, metadata FROM gone RETURNING memory_id",
            where=where,
        )
        rows = await (await conn.execute(statement, params)).fetchall()
        deleted = [r["memory_id"] for r in rows]
        if deleted:
            # A statement of its own, so its snapshot is taken after the deletion got its row locks: an export
            # being created holds its memories locked (FOR KEY SHARE) until it commits, so it is either
            # committed and seen here, or made after this commit and without these memories.
            exports = self._sql("DELETE FROM memory_exports e WHERE e.{tenant} AND e.memory_ids && %s::uuid[]")
            await conn.execute(exports, (deleted,))
        return deleted

    async def superseded_chain(self, conn: Conn, memory_id: uuid.UUID) -> list[uuid.UUID]:
        """The memory and every memory it replaced, transitively (for delete_linked)."""
        statement = self._sql(
            "WITH RECURSIVE chain(id) AS (SELECT %s::uuid UNION"
            " SELECT m.id FROM memories m JOIN chain c ON m.replaced_by = c.id WHERE {tenant})"
            " SELECT id FROM chain"
        )
        rows = await (await conn.execute(statement, (memory_id,))).fetchall()
        return [row["id"] for row in rows]

    async def supersede(self, conn: Conn, old_ids: Sequence[uuid.UUID], new_id: uuid.UUID) -> int:
        """Inside the write transaction: link older memories to the memory that replaces them; returns how many
        changed.

        Only current memories (``replaced_by IS NULL``) are linked, and only to a current memory: both ends are
        row-locked first (in id order), then checked, so two concurrent adds cannot both re-point one memory,
        and a chain never loops (a link only ever joins the ends of two chains). Immutable memories are kept.
        """
        lock = self._sql("SELECT m.id FROM memories m WHERE {tenant} AND m.id = ANY(%s) ORDER BY m.id FOR UPDATE")
        await conn.execute(lock, ([*old_ids, new_id],))
        statement = self._sql(
            "UPDATE memories m SET replaced_by = %s, state = 'superseded', updated_at = clock_timestamp()"
            " WHERE {tenant} AND m.id = ANY(%s) AND m.id <> %s AND NOT m.immutable AND m.replaced_by IS NULL"
            " AND EXISTS (SELECT 1 FROM memories s WHERE s.{tenant} AND s.id = %s AND s.replaced_by IS NULL)"
            " RETURNING " + MEMORY_COLUMNS
        )
        rows = await (await conn.execute(statement, (new_id, list(old_ids), new_id, new_id))).fetchall()
        changed = [record_from_row(row) for row in rows]
        await self._add_history(conn, [(r, "UPDATE", r.memory, r.memory) for r in changed], None)
        return len(changed)

    # --- the project itself ------------------------------------------------------------------

    async def project_settings(self) -> dict[str, Any]:
        """Project-level settings (instructions, categories...) as stored by PATCH project."""
        async with self.db.pool.connection() as conn:
            row = await (await conn.execute(self._sql("SELECT settings FROM projects WHERE id = {project}"))).fetchone()
        return dict(row["settings"]) if row else {}

    async def project(self, conn: Conn) -> dict[str, Any]:
        statement = self._sql(
            "SELECT id, org_id, name, description, settings, is_default, created_at, updated_at"
            " FROM projects WHERE id = {project}"
        )
        row = await (await conn.execute(statement)).fetchone()
        assert row is not None
        return dict(row)

    async def update_project(
        self, conn: Conn, *, name: str | None, description: str | None, settings: dict[str, Any]
    ) -> None:
        statement = self._sql(
            "UPDATE projects SET name = coalesce(%s, name), description = coalesce(%s, description),"
            " settings = settings || %s, updated_at = now() WHERE id = {project}"
        )
        await conn.execute(statement, (name, description, Jsonb(settings)))

    # --- idempotency ---------------------------------------------------------------------------

    async def claim_idempotency_key(
        self, conn: Conn, key: str, route: str, request_hash: str
    ) -> tuple[str, dict[str, Any]] | None:
        """Inside the write's transaction: reserve ``key``, or return the (hash, response) stored for it.

        A concurrent request with the same key waits on the row until the first one commits.
        """
        statement = self._sql(
            "INSERT INTO idempotency_keys (project_id, key, route, request_hash, response)"
            " VALUES ({project}, %s, %s, %s, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING key"
        )
        if await (await conn.execute(statement, (key, route, request_hash))).fetchone() is not None:
            return None
        existing = self._sql("SELECT request_hash, response FROM idempotency_keys WHERE {tenant} AND key = %s")
        row = await (await conn.execute(existing, (key,))).fetchone()
        assert row is not None
        return str(row["request_hash"]), dict(row["response"] or {})

    async def store_idempotent_response(self, conn: Conn, key: str, response: dict[str, Any]) -> None:
        statement = self._sql("UPDATE idempotency_keys SET response = %s WHERE {tenant} AND key = %s")
        await conn.execute(statement, (Jsonb(response), key))

    # --- events ----------------------------------------------------------------------------

    async def create_event(
        self,
        conn: Conn,
        *,
        event_type: str,
        status: str,
        payload: dict[str, Any],
        results: list[Any] | None = None,
        max_attempts: int = 5,
        event_id: uuid.UUID | None = None,
        scope: Scope | None = None,
    ) -> uuid.UUID:
        """Record an event. A PENDING event is a queued job: workers are woken by NOTIFY on commit."""
        event_id = event_id or uuid.uuid4()
        finished = status in ("SUCCEEDED", "FAILED")
        statement = self._sql(
            "INSERT INTO events (project_id, id, event_type, status, payload, results, max_attempts,"
            " user_id, agent_id, app_id, run_id, started_at, completed_at)"
            " VALUES ({project}, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {started}, {started})",
            started=sql.SQL("clock_timestamp()" if finished else "NULL"),
        )
        scope = scope or Scope()
        await conn.execute(
            statement,
            (
                event_id,
                event_type,
                status,
                Jsonb(payload),
                Jsonb(results or []),
                max_attempts,
                scope.user_id,
                scope.agent_id,
                scope.app_id,
                scope.run_id,
            ),
        )
        if status == "PENDING":
            await conn.execute("SELECT pg_notify('mnemo_jobs', '')")
        return event_id

    async def recent_add_payloads(self, conn: Conn, scope: Scope, before: uuid.UUID | None, *, limit: int) -> list[Any]:
        """Payloads of the scope's latest adds created before event ``before`` (or all), newest first."""
        statement = self._sql(
            "SELECT e.payload FROM events e WHERE {tenant} AND e.event_type = 'ADD'"
            " AND e.user_id IS NOT DISTINCT FROM %s AND e.agent_id IS NOT DISTINCT FROM %s"
            " AND e.app_id IS NOT DISTINCT FROM %s AND e.run_id IS NOT DISTINCT FROM %s"
            " AND (%s::uuid IS NULL OR e.created_at < (SELECT created_at FROM events WHERE {tenant} AND id = %s))"
            " ORDER BY e.created_at DESC LIMIT %s"
        )
        values = (scope.user_id, scope.agent_id, scope.app_id, scope.run_id, before, before, limit)
        rows = await (await conn.execute(statement, values)).fetchall()
        return [row["payload"] for row in rows]

    async def get_event(self, conn: Conn, event_id: uuid.UUID) -> EventRow | None:
        statement = self._sql("SELECT " + _EVENT_COLUMNS + " FROM events WHERE {tenant} AND id = %s")
        row = await (await conn.execute(statement, (event_id,))).fetchone()
        return EventRow(**row) if row else None

    async def list_events(self, conn: Conn, *, offset: int, limit: int) -> tuple[int, list[EventRow]]:
        count = await (await conn.execute(self._sql("SELECT count(*) AS n FROM events WHERE {tenant}"))).fetchone()
        statement = self._sql(
            "SELECT " + _EVENT_COLUMNS + " FROM events WHERE {tenant} ORDER BY created_at DESC, id LIMIT %s OFFSET %s"
        )
        rows = await (await conn.execute(statement, (limit, offset))).fetchall()
        return (int(count["n"]) if count else 0), [EventRow(**r) for r in rows]
