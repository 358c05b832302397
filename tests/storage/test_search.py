"""The search legs: nearest by vector, keyword matches (BM25 inputs), candidates by id."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from mnemo.domain.memories import index_fields
from mnemo.domain.scoring import BM25
from mnemo.storage import Database, KeywordBounds, KeywordMatches, ProjectData, ReadOptions
from tests.storage.support import BOB, T0, axis, insert, memory, select, vec

pytestmark = pytest.mark.anyio

ALICE_ONLY = select({"user_id": "alice"})


def by_id(matches: KeywordMatches) -> dict[uuid.UUID, tuple[int, list[int]]]:
    return {uuid.UUID(memory_id): (length, hits) for memory_id, length, hits in matches.matches}


async def compass(project: ProjectData) -> list[uuid.UUID]:
    """Alice's North, Northeast, East and South (unit vectors at those angles)."""
    return await insert(
        project,
        memory("North.", vector=vec(1, 0)),
        memory("Northeast.", vector=vec(0.8, 0.6)),
        memory("East.", vector=vec(0, 1)),
        memory("South.", vector=vec(-1, 0)),
    )


async def test_nearest_orders_by_cosine_similarity_within_the_selection(project: ProjectData) -> None:
    north, northeast, east, south = await compass(project)
    await insert(project, memory("Bob's north.", scope=BOB, vector=vec(1, 0)))
    async with project.reading() as tables:
        best_two = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=2)
        everything = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=10)
        easterly = await tables.search.nearest(
            vec(0, 1), select({"user_id": "alice", "text": {"contains": "orth"}}), ReadOptions(), limit=10
        )
    assert [c.id for c in best_two] == [north, northeast]
    assert [c.id for c in everything] == [north, northeast, east, south]
    assert [c.similarity for c in everything] == pytest.approx([1.0, 0.8, 0.0, -1.0], abs=1e-6)
    assert [c.id for c in easterly] == [northeast, north]


async def test_nearest_honours_the_visibility_options(project: ProjectData) -> None:
    expired, replaced, replacing = await insert(
        project,
        memory("Expired.", vector=vec(1, 0), expiration_date=date(2000, 1, 1)),
        memory("Replaced.", vector=vec(1, 0.1)),
        memory("Replacing.", vector=vec(0, 1)),
    )
    async with project.transaction() as tables:
        await tables.memories.supersede([replaced], replacing)
        default = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=10)
        with_expired = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(show_expired=True), limit=10)
        latest = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(latest_only=True), limit=10)
    assert [c.id for c in default] == [replaced, replacing]
    assert [c.id for c in with_expired] == [expired, replaced, replacing]
    assert [c.id for c in latest] == [replacing]


async def test_nearest_carries_the_ranking_features_of_each_memory(project: ProjectData) -> None:
    text = "Alice met Bob in Berlin yesterday."
    (memory_id,) = await insert(project, memory(text))
    async with project.reading() as tables:
        (candidate,) = await tables.search.nearest(axis(0), ALICE_ONLY, ReadOptions(), limit=1)
    index = index_fields(text, speaker=None, observed_at=T0)
    assert candidate.id == memory_id
    assert (tuple(candidate.entities), tuple(candidate.dates)) == (index.entities, index.dates)
    assert candidate.dates == [(date(2025, 2, 28), date(2025, 2, 28))], "a one-day span, both ends inclusive"
    async with project.reading() as tables:
        (undated,) = await tables.search.nearest(axis(0), ALICE_ONLY, ReadOptions(), limit=1, dates=False)
    assert (undated.id, undated.entities, undated.dates) == (memory_id, candidate.entities, [])


async def test_nearest_each_finds_the_closest_memory_of_the_selection_for_every_vector(project: ProjectData) -> None:
    north, northeast, east, _south = await compass(project)
    await insert(project, memory("Bob's west.", scope=BOB, vector=vec(-0.6, -0.8)))
    async with project.reading() as tables:
        found = await tables.search.nearest_each([vec(0.1, 1), vec(1, 0), vec(0.7, 0.7)], ALICE_ONLY, ReadOptions())
        nobody = await tables.search.nearest_each([vec(1, 0)], select({"user_id": "carol"}), ReadOptions())
    assert [c.id if c else None for c in found] == [east, north, northeast]
    assert found[1] is not None and found[1].similarity == pytest.approx(1.0, abs=1e-6)
    assert nobody == [None]


async def test_keyword_matches_counts_the_query_terms_the_scope_and_each_memorys_hits(project: ProjectData) -> None:
    marathon, seafood, _paris = await insert(
        project,
        memory("Alice runs marathons in Boston."),
        memory("Boston has great seafood."),
        memory("Paris is lovely in spring."),
    )
    await insert(project, memory("Bob runs in Boston too.", scope=BOB))
    async with project.reading() as tables:
        found = await tables.search.keyword_matches("running in Boston", ALICE_ONLY, ReadOptions())
    # Distinct stemmed lexemes of the query, sorted: "boston" (0), "run" (1); "in" is a stop word.
    assert (found.terms, found.documents) == (2, 3)
    assert by_id(found) == {marathon: (4, [0, 1]), seafood: (3, [0])}


async def test_keyword_matches_weighs_the_speakers_name_as_a_lexeme(project: ProjectData) -> None:
    (said,) = await insert(project, memory("I adopted a kitten.", speaker="Caroline"))
    async with project.reading() as tables:
        found = await tables.search.keyword_matches("Caroline", ALICE_ONLY, ReadOptions())
    assert [m[0] for m in found.matches] == [str(said)]


async def test_keyword_matches_skip_memories_holding_only_the_lexemes_known_to_be_common(project: ProjectData) -> None:
    """Lexemes the bounds know to be common match nothing by themselves: the memories holding another lexeme of the
    query come with all their hits, and the common ones' document frequencies are those the bounds gave."""
    chatter = await insert(project, *(memory(f"Day {i} was fine.", speaker="Caroline") for i in range(7)))
    (kitten,) = await insert(project, memory("I adopted a kitten.", speaker="Caroline"))
    others = await insert(project, memory("Nice kitten!", speaker="Mel"), memory("Sounds fun.", speaker="Mel"))
    question = "Did Caroline adopt a kitten?"
    async with project.reading() as tables:
        every = await tables.search.keyword_matches(question, ALICE_ONLY, ReadOptions())
        known = await tables.search.keyword_matches(
            question, ALICE_ONLY, ReadOptions(), bounds=KeywordBounds(common={"carolin": 8, "elsewher": 3})
        )
        only_common = await tables.search.keyword_matches(
            "Caroline?", ALICE_ONLY, ReadOptions(), bounds=KeywordBounds(common={"carolin": 8})
        )
    # Lexemes, sorted: "adopt" (0), "carolin" (1), "kitten" (2). Caroline is in 8 of the 10 memories.
    assert set(by_id(every)) == {*chatter, kitten, others[0]} and every.estimated == {}
    assert by_id(known) == {kitten: (3, [0, 1, 2]), others[0]: by_id(every)[others[0]]}
    assert (known.lexemes, known.estimated, known.unmatched) == (["adopt", "carolin", "kitten"], {1: 8}, {1: "carolin"})
    assert (known.documents, known.bounded) == (10, False)
    scores, kept = (
        {key: BM25.of(m.corpus, m.terms, m.matches, m.estimated).score(length, hits) for key, length, hits in m.matches}
        for m in (every, known)
    )
    assert kept == {key: scores[key] for key in kept}, "the memories read score as they did"
    assert (only_common.matches, only_common.estimated) == ([], {0: 8})


async def test_nearest_tells_which_of_the_given_lexemes_each_candidate_holds(project: ProjectData) -> None:
    said, other = await insert(
        project,
        memory("Caroline went hiking.", speaker="Caroline", vector=vec(1, 0)),
        memory("Mel baked bread.", speaker="Mel", vector=vec(0, 1)),
    )
    async with project.reading() as tables:
        found = await tables.search.nearest(
            vec(1, 0), ALICE_ONLY, ReadOptions(), limit=5, holding={1: "carolin", 4: "bread"}
        )
        plain = await tables.search.nearest(vec(1, 0), ALICE_ONLY, ReadOptions(), limit=5)
    assert [(c.id, list(c.holds)) for c in found] == [(said, [1]), (other, [4])]
    assert all(c.lexemes > 0 for c in found), "each candidate's number of lexemes (BM25's length)"
    assert [(c.id, c.lexemes, list(c.holds)) for c in plain] == [(said, 0, []), (other, 0, [])]


async def test_keyword_matches_of_a_query_without_lexemes_is_empty(project: ProjectData) -> None:
    await insert(project, memory("Alice runs marathons in Boston."))
    async with project.reading() as tables:
        found = await tables.search.keyword_matches("the and of it", ALICE_ONLY, ReadOptions())
    assert (found.terms, found.documents, found.matches) == (0, 1, [])


async def test_keyword_matches_hide_what_the_options_hide_but_count_every_document(project: ProjectData) -> None:
    old, new, expired = await insert(
        project,
        memory("Works at Acme in Boston."),
        memory("Works at Globex in Boston."),
        memory("Visited Boston once.", expiration_date=date(2000, 1, 1)),
    )
    async with project.transaction() as tables:
        await tables.memories.supersede([old], new)
        default = await tables.search.keyword_matches("Boston", ALICE_ONLY, ReadOptions())
        latest = await tables.search.keyword_matches("Boston", ALICE_ONLY, ReadOptions(latest_only=True))
        everything = await tables.search.keyword_matches("Boston", ALICE_ONLY, ReadOptions(show_expired=True))
    assert set(by_id(default)) == {old, new}
    assert set(by_id(latest)) == {new}
    assert set(by_id(everything)) == {old, new, expired}
    assert default.documents == latest.documents == everything.documents == 3


async def test_candidates_by_id_returns_the_rows_that_exist_with_their_similarity(project: ProjectData) -> None:
    near, far = await insert(project, memory("Near.", vector=vec(1, 0)), memory("Far.", vector=vec(0, 1)))
    async with project.reading() as tables:
        found = await tables.search.candidates_by_id([far, uuid.uuid4(), near], vec(1, 0))
    assert {c.id: round(c.similarity, 6) for c in found} == {near: 1.0, far: 0.0}


async def test_nearest_also_fetches_the_given_rows_once_in_order_of_similarity(project: ProjectData) -> None:
    north, northeast, east, south = await compass(project)
    (bobs,) = await insert(project, memory("Bob's north.", scope=BOB, vector=vec(1, 0)))
    async with project.reading() as tables:
        found = await tables.search.nearest(
            vec(1, 0), ALICE_ONLY, ReadOptions(), limit=2, also=[str(south), str(northeast), str(uuid.uuid4())]
        )
        others = await tables.search.nearest(
            vec(1, 0), select({"user_id": "bob"}), ReadOptions(), limit=1, also=[str(east)]
        )
    assert [c.id for c in found] == [north, northeast, south], "the nearest two, then what was asked for"
    assert [c.similarity for c in found] == pytest.approx([1.0, 0.8, -1.0], abs=1e-6)
    assert [c.id for c in others] == [bobs, east], "the given ids are taken as they are (already matched)"


async def test_keyword_matches_of_a_large_scope_go_by_its_rarer_words(db: Database, project: ProjectData) -> None:
    """Past ``large_scope`` memories, a word the statistics expect in more than ``match_budget`` of them matches
    nothing by itself: only memories holding a rarer word of the query are read, and the common word's document
    frequency is the statistics' estimate."""
    common = await insert(project, *(memory(f"Zanzibar note number {i}.") for i in range(36)))
    rare = await insert(project, *(memory(f"A quokka met me in Zanzibar, day {i}.") for i in range(3)))
    await insert(project, memory("Quokkas are shy.", scope=BOB))
    async with db.connection() as conn:
        await conn.execute("ANALYZE memories")
    bounds = KeywordBounds(large_scope=10, match_budget=5)
    async with project.reading() as tables:
        small = await tables.search.keyword_matches("quokka in Zanzibar", ALICE_ONLY, ReadOptions())
        large = await tables.search.keyword_matches("quokka in Zanzibar", ALICE_ONLY, ReadOptions(), bounds=bounds)
        counted = await tables.search.keyword_matches(
            "quokka in Zanzibar", ALICE_ONLY, ReadOptions(), bounds=KeywordBounds(count_up_to=100)
        )
        known = await tables.search.keyword_matches(
            "quokka in Zanzibar", ALICE_ONLY, ReadOptions(), bounds=replace(bounds, known_size=12)
        )
    # Lexemes, sorted: "quokka" (0), "zanzibar" (1).
    assert (small.bounded, small.documents, set(by_id(small))) == (False, 39, {*common, *rare})
    assert large.bounded and large.documents == 10, "counted only up to the large-scope bound"
    assert by_id(large) == {memory_id: (5, [0, 1]) for memory_id in rare}
    assert set(large.estimated) == {1} and large.estimated[1] >= 36, "Zanzibar: the statistics' count"
    assert large.corpus >= 40, "the table's estimated size"
    assert (counted.bounded, counted.documents) == (False, 39)
    assert (known.bounded, known.documents, known.matches) == (True, 12, large.matches), "a size known: not counted"
