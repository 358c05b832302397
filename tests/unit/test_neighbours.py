"""Which memories of a search's candidates are neighbours in their conversation, and how far one lifts another."""

from __future__ import annotations

import uuid

from mnemo.domain.neighbours import SAME_ADD_LIMIT, after_the_best_of_its_add, lifted, neighbours


def test_neighbours_are_the_adds_a_memory_records_before_it_and_its_own_add() -> None:
    first, second, third, apart = (uuid.uuid4() for _ in range(4))
    turns = [
        (first, []),  # 0
        (second, [first]),  # 1
        (third, [first, second]),  # 2: two messages back
        (third, [first, second]),  # 3: the same add as 2
        (apart, []),  # 4: another conversation
        (None, []),  # 5: imported, no add
    ]
    assert neighbours(turns) == [{1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}, set(), set()]


def test_a_memory_is_lifted_by_a_share_of_the_gap_to_its_best_neighbour_and_never_past_it() -> None:
    scores = [0.8, 0.2, 0.5, 0.1]
    near = [{1}, {0, 2}, {1}, set()]
    assert lifted(scores, near, 0.5) == [0.8, 0.5, 0.5, 0.1]
    assert lifted(scores, near, 0.0) == scores


def test_the_memories_of_a_large_add_are_not_neighbours_for_having_come_together() -> None:
    document, before, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    chunks = [(document, [before]) for _ in range(SAME_ADD_LIMIT + 1)]
    found = neighbours([(before, []), *chunks, (after, [document])])
    chunk_indexes = set(range(1, SAME_ADD_LIMIT + 2))
    assert found[0] == chunk_indexes, "each chunk still follows the add before it"
    assert found[1] == {0, SAME_ADD_LIMIT + 2}, "and precedes the add after it, but no other chunk is its neighbour"


def test_every_memory_of_an_add_but_its_best_keeps_a_share_of_its_score() -> None:
    one, other = uuid.uuid4(), uuid.uuid4()
    assert after_the_best_of_its_add([0.5, 0.9, 0.7, 0.3], [one, one, other, None], 0.8) == [0.4, 0.9, 0.7, 0.3]


def test_a_large_add_keeps_its_scores() -> None:
    document = uuid.uuid4()
    scores = [0.9 - 0.1 * i for i in range(SAME_ADD_LIMIT + 1)]
    assert after_the_best_of_its_add(scores, [document] * len(scores), 0.8) == scores
