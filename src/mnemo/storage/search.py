"""The storage legs of a search over one project's memories: nearest by vector, and keyword matches.

Each leg is one statement; the retriever runs them at once on two connections.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, LiteralString

from psycopg import sql
from psycopg.rows import tuple_row

from mnemo.filters import Node
from mnemo.storage.database import Conn
from mnemo.storage.filter_sql import compile_filter
from mnemo.storage.memories import visibility
from mnemo.storage.records import (
    CANDIDATE_COLUMNS_M,
    CANDIDATE_COLUMNS_M_UNDATED,
    Candidate,
    KeywordBounds,
    KeywordMatches,
    ReadOptions,
    Vector,
    candidate_from_row,
)
from mnemo.storage.tenant import TenantGuard
from mnemo.storage.vector_index import HNSW_EF_SEARCH

#: A candidate's feedback, read in its own statement (a separate lookup was one more round trip per search).
_FEEDBACK: LiteralString = (
    "(SELECT f.feedback FROM memory_feedback f WHERE f.{tenant} AND f.memory_id = m.id) AS feedback"
)


#: Which of the query's lexemes (``terms.each``, one tsquery each) a memory ``m`` holds: their indexes, from 0.
_HITS: LiteralString = " ARRAY(SELECT i - 1 FROM generate_subscripts(terms.each, 1) i WHERE m.tsv @@ terms.each[i])"

#: A candidate ``m``'s number of lexemes, and which of the given lexemes (indexes, then lexemes) it holds.
_HOLDS: LiteralString = (
    ", length(m.tsv), ARRAY(SELECT u.i FROM unnest(%s::int[], %s::text[]) u(i, t)"
    " WHERE m.tsv @@ quote_literal(u.t)::tsquery)"
)

#: The share of the memories table holding each of the given lexemes, for those among the most common elements
#: the statistics keep for ``tsv``, and the table's estimated row count (on every row, and alone when none is).
_LEXEME_SHARES: LiteralString = (
    "SELECT greatest(c.reltuples, 0)::bigint, e.lexeme, e.share FROM pg_class c LEFT JOIN LATERAL ("
    "  SELECT u.lexeme, u.share FROM pg_stats s,"
    "   unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs[:cardinality(s.most_common_elems)])"
    "    AS u(lexeme, share)"
    "  WHERE s.schemaname = current_schema() AND s.tablename = 'memories' AND s.attname = 'tsv'"
    "   AND u.lexeme = ANY(%s)) e ON TRUE"
    " WHERE c.oid = 'memories'::regclass"
)


class SearchStore:
    __slots__ = ("_conn", "_guard")

    def __init__(self, conn: Conn, guard: TenantGuard) -> None:
        self._conn = conn
        self._guard = guard

    async def nearest(
        self,
        vector: Vector,
        selection: Node,
        options: ReadOptions,
        *,
        limit: int,
        also: Sequence[str] = (),
        approximate: bool = False,
        ef_search: int = HNSW_EF_SEARCH,
        dates: bool = True,
        holding: Mapping[int, str] | None = None,
    ) -> list[Candidate]:
        """Memories ``selection`` matches, ordered by cosine similarity to ``vector`` (best first), plus the
        rows of ``also`` (ids, as text, already known to match, e.g. a search's best keyword matches) in the same
        order: one statement, each row once. With ``holding`` (stemmed lexemes by index, e.g. those the keyword
        leg left out as common), each candidate also carries its number of lexemes and the indexes of those it holds.

        The exact scan sorts ids and distances only, then fetches the winners' rows: sorting whole
        rows (with their vectors) costs more than the distances themselves. ``approximate`` walks the HNSW
        index instead (:mod:`mnemo.storage.vector_index`, which must exist), keeping ``ef_search`` candidates,
        with pgvector's iterative scan so that rows the selection filters out cannot leave the result short.
        Without ``dates`` the candidates' ``dates`` are left empty (not read).
        """
        where, params = compile_filter(selection, alias="m")
        near = (
            "SELECT m.id, m.embedding <=> %s AS distance FROM memories m"
            " WHERE {tenant} AND ({where}) AND {visible} ORDER BY 2 LIMIT %s"
        )
        if approximate:  # the index's own expression, so that the planner can walk it
            near = (
                "SELECT m.id, m.embedding::vector({dims}) <=> %s::vector({dims}) AS distance FROM memories m"
                " WHERE {tenant} AND ({where}) AND {visible} ORDER BY 2 LIMIT %s"
            )
        if also:
            near = (
                "SELECT m.id, m.embedding <=> %s AS distance FROM memories m WHERE {tenant} AND m.id IN"
                " (SELECT id FROM (" + near + ") nearest UNION SELECT unnest(%s::uuid[]))"
            )
        statement = self._guard.sql(
            "SELECT "
            + (CANDIDATE_COLUMNS_M if dates else CANDIDATE_COLUMNS_M_UNDATED)
            + ", 1 - near.distance AS similarity, "
            + _FEEDBACK
            + (_HOLDS if holding else "")
            + " FROM ("
            + near
            + ") near JOIN memories m ON m.id = near.id AND m.{tenant} ORDER BY near.distance, m.id",
            where=where,
            visible=visibility(options),
            dims=sql.Literal(len(vector)),
        )
        values = [vector, *params, limit]
        if also:
            values = [vector, *values, list(also)]
        if holding:
            values = [list(holding), list(holding.values()), *values]
        if not approximate:
            return await self._candidates(statement, values)
        async with self._conn.transaction():
            # relaxed_order: the index scan goes on past rows the filter drops until ``limit`` rows are found
            # (in roughly ascending distance; the outer ORDER BY sorts them). No sort: the index it must be.
            await self._conn.execute(
                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                " set_config('hnsw.ef_search', %s, true), set_config('enable_sort', 'off', true)",
                (str(min(1000, max(ef_search, limit))),),
            )
            return await self._candidates(statement, values)

    async def nearest_each(
        self, vectors: Sequence[Vector], selection: Node, options: ReadOptions
    ) -> list[Candidate | None]:
        """For each of ``vectors``, the memory ``selection`` matches that is closest to it (None when none does),
        in one statement (an exact scan per vector); the candidates' ``dates`` are left empty."""
        if not vectors:
            return []
        where, params = compile_filter(selection, alias="m")
        statement = self._guard.sql(
            "SELECT q.i, " + CANDIDATE_COLUMNS_M_UNDATED + ", 1 - near.distance AS similarity, NULL AS feedback"
            " FROM unnest(%b::vector[]) WITH ORDINALITY q(v, i) CROSS JOIN LATERAL ("
            "  SELECT m.id, m.embedding <=> q.v AS distance FROM memories m"
            "  WHERE {tenant} AND ({where}) AND {visible} ORDER BY 2 LIMIT 1) near"
            " JOIN memories m ON m.id = near.id AND m.{tenant}",
            where=where,
            visible=visibility(options),
        )
        async with self._conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            rows = await (await cursor.execute(statement, [list(vectors), *params])).fetchall()
        found: list[Candidate | None] = [None] * len(vectors)
        for row in rows:
            found[row[0] - 1] = candidate_from_row(row, at=1)
        return found

    async def keyword_matches(
        self, query: str, selection: Node, options: ReadOptions, *, bounds: KeywordBounds | None = None
    ) -> KeywordMatches:
        """Every memory in scope sharing a stemmed lexeme with ``query``: which lexemes, and its length.

        The GIN index on ``tsv`` finds the matches; ``documents`` counts the scope for IDF (visibility
        aside, so the count can come from an index alone), up to ``bounds.count_up_to``. The lexemes of
        ``bounds.common`` (known to be in a large part of the scope, e.g. a speaker's name, which is in every message
        they said) match nothing by themselves: only the memories holding another of the query's lexemes are read,
        with all their hits, and the common lexemes' document frequencies are those ``bounds`` gives (``estimated``).

        A scope of at least ``bounds.large_scope`` memories is matched on its rarer lexemes only
        (:meth:`_bounded_matches`): there a common word would match a large part of the scope, and each match costs
        a row read.
        """
        bounds = bounds or KeywordBounds()
        where, params = compile_filter(selection, alias="m")
        skipped = list(bounds.common)
        # The query's lexemes ORed, those known to be common left out (built from the lexemes only then, so that
        # every other query matches as it always has).
        matching: LiteralString = (
            "(SELECT string_agg(quote_literal(t), ' | ') FROM unnest(tsvector_to_array(to_tsvector('english', %s))) t"
            " WHERE t <> ALL(%s::text[]))::tsquery"
            if skipped
            else "nullif(replace(plainto_tsquery('english', %s)::text, ' & ', ' | '), '')::tsquery"
        )
        statement = self._guard.sql(
            "WITH terms AS MATERIALIZED ("
            "  SELECT coalesce(array_agg(t ORDER BY t), '{{}}') AS lexemes,"
            "         coalesce(array_agg(quote_literal(t)::tsquery ORDER BY t), '{{}}') AS each,"
            "         " + matching + " AS q"
            "  FROM unnest(tsvector_to_array(to_tsvector('english', %s))) t),"
            " scope AS MATERIALIZED ("
            "  SELECT count(*) AS documents FROM (SELECT 1 FROM memories m WHERE {tenant} AND ({where}) LIMIT %s) s)"
            # One row with the query's lexemes and the scope's size, then one per match (id, length, hits): the
            # lexemes repeated on every match were decoded once per match.
            " SELECT terms.lexemes, scope.documents, NULL::text, NULL::integer, NULL::integer[] FROM terms, scope"
            " UNION ALL"
            " SELECT NULL, NULL, matched.id, matched.length, matched.hits"
            " FROM terms CROSS JOIN scope CROSS JOIN LATERAL ("
            "  SELECT m.id::text, length(m.tsv) AS length," + _HITS + " AS hits"
            "  FROM memories m WHERE scope.documents < %s AND {tenant} AND ({where}) AND {visible}"
            # OFFSET 0 keeps the subquery whole, so that the scope's size gates it before it runs (a one-time
            # filter); flattened, the size would be checked only after every match had been read.
            "   AND m.tsv @@ terms.q OFFSET 0) matched",
            where=where,
            visible=visibility(options),
        )
        large = bounds.large_scope
        known = bounds.known_size if bounds.knows_large() else None
        # A scope known to be large is neither counted (a LIMIT of 0) nor matched here (a gate of 0).
        count_cap, gate = (0, 0) if known is not None else (max(large, bounds.count_up_to), large)
        query_values: list[Any] = [query, skipped] if skipped else [query]
        values = [*query_values, query, *params, count_cap, gate, *params]
        # Plain tuples: a broad query matches hundreds of rows, and dicts would cost more than the SQL.
        async with self._conn.cursor(row_factory=tuple_row) as cursor:
            rows = await (await cursor.execute(statement, values)).fetchall()
        head = next(row for row in rows if row[2] is None)
        lexemes = list(head[0])
        documents = known if known is not None else int(head[1])
        if documents >= large and lexemes:
            return await self._bounded_matches(lexemes, documents, selection, options, bounds)
        return KeywordMatches(
            lexemes=lexemes,
            documents=documents,
            matches=[(row[2], row[3], row[4]) for row in rows if row[2] is not None],
            estimated={i: bounds.common[lexeme] for i, lexeme in enumerate(lexemes) if lexeme in bounds.common},
        )

    async def _bounded_matches(
        self, lexemes: list[str], documents: int, selection: Node, options: ReadOptions, bounds: KeywordBounds
    ) -> KeywordMatches:
        """The keyword matches of a large scope: memories holding at least one of the query's lexemes that the
        table's statistics (``pg_stats``: the share of memories holding each common lexeme) expect in few
        memories, rarest first while they fit ``bounds.match_budget``, with every lexeme's hits; the other
        lexemes' document frequencies are those statistics' estimates.

        The statistics are the whole table's (every project's), refreshed by ANALYZE (autovacuum does it after
        enough writes): an estimate of how common a word is, never a read of another project's rows. Without
        them (a table never analysed) no lexeme counts as common and the scope is matched as a small one is.
        """
        async with self._conn.cursor(row_factory=tuple_row) as cursor:
            found = await (await cursor.execute(_LEXEME_SHARES, [lexemes])).fetchall()
        rows = max(documents, int(found[0][0]) if found else 0)
        shares = {lexeme: float(share) for _, lexeme, share in found if lexeme is not None}
        expected = [round(shares.get(lexeme, 0.0) * rows) for lexeme in lexemes]
        # The rarest lexemes first, while the memories they are expected in fit the budget.
        rare: set[int] = set()
        budget = bounds.match_budget
        for i in sorted(range(len(lexemes)), key=expected.__getitem__):
            if expected[i] > budget:
                break
            rare.add(i)
            budget -= expected[i]
        estimated = {i: count for i, count in enumerate(expected) if i not in rare}
        matches: list[tuple[str, int, list[int]]] = []
        if rare:
            where, params = compile_filter(selection, alias="m")
            statement = self._guard.sql(
                "WITH terms AS MATERIALIZED ("
                "  SELECT array_agg(quote_literal(t)::tsquery ORDER BY i) AS each,"
                "   (SELECT string_agg(quote_literal(r), ' | ')::tsquery FROM unnest(%s::text[]) r) AS q"
                "  FROM unnest(%s::text[]) WITH ORDINALITY u(t, i))"
                " SELECT m.id::text, length(m.tsv),"
                + _HITS
                + " FROM terms, memories m WHERE {tenant} AND ({where}) AND {visible} AND m.tsv @@ terms.q LIMIT %s",
                where=where,
                visible=visibility(options),
            )
            async with self._conn.cursor(row_factory=tuple_row) as cursor:
                rare_lexemes = [lexemes[i] for i in sorted(rare)]
                result = await cursor.execute(statement, [rare_lexemes, lexemes, *params, 2 * bounds.match_budget])
                matches = [(row[0], row[1], row[2]) for row in await result.fetchall()]
        return KeywordMatches(
            lexemes=lexemes,
            documents=documents,
            matches=matches,
            estimated=estimated,
            corpus_estimate=rows,
        )

    async def candidates_by_id(self, ids: Sequence[uuid.UUID], vector: Vector) -> list[Candidate]:
        """The rows of ``ids`` (those that exist) with their similarity to ``vector``."""
        statement = self._guard.sql(
            "SELECT "
            + CANDIDATE_COLUMNS_M
            + ", 1 - (m.embedding <=> %s) AS similarity, "
            + _FEEDBACK
            + " FROM memories m WHERE {tenant} AND m.id = ANY(%s)"
        )
        return await self._candidates(statement, [vector, list(ids)])

    async def _candidates(self, statement: sql.Composed, values: Sequence[Any]) -> list[Candidate]:
        """The candidates of a statement selecting :data:`CANDIDATE_COLUMNS_M`, a similarity and a feedback: plain
        tuples in binary (a search reads ~100 rows, and dicts and text cost more)."""
        async with self._conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            rows = await (await cursor.execute(statement, values)).fetchall()
        return [candidate_from_row(row) for row in rows]
