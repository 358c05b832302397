"""Neighbours in a conversation: the memories said next to one that answers a search.

A conversation answers across turns: "How's the new puppy?" is found by its words, and "Biscuit, after my
favourite snack." beside it is the answer. Every memory records the adds of the four messages that came just
before it in its scope (``context_events``); two memories are neighbours when one came with an add the other
records, or both came with the same add of a few memories. Ranking raises each candidate's fused score by a
share (``RankingWeights.neighbour_share``, 0.5) of its gap to its best-scoring neighbour among the candidates:
a memory never passes the neighbour that lifts it, so the best match keeps its place, and a memory far from
every match moves no more than its own score allows.

Measured on LoCoMo (``bench/README.md``): evidence recall@10 0.748 → 0.780 at a share of 0.5.

The memories of one add say one thing several ways (extracted facts of one message, a reply restating it): after
the lift, every memory of an add of a few candidates but its best keeps a share of its score
(:func:`after_the_best_of_its_add`), so the results show more of the conversation (LoCoMo with extraction:
recall@10 0.765 → 0.775).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

#: An add with more memories than this among the candidates (a document's chunks, a long extraction) is not one
#: exchange: its memories are not neighbours of each other for having come together.
SAME_ADD_LIMIT = 4


def neighbours(turns: Sequence[tuple[str | None, Sequence[str]]]) -> list[set[int]]:
    """For each of ``turns`` (a memory's add, and the adds before it it records), the indexes of its neighbours
    among ``turns``."""
    by_event = _by_event([event for event, _ in turns])
    found: list[set[int]] = [set() for _ in turns]
    for index, (event, before) in enumerate(turns):
        together = [event] if event is not None and _one_exchange(by_event[event]) else []
        for earlier in {*together, *before}:
            for other in by_event.get(earlier, ()):
                if other != index:
                    found[index].add(other)
                    found[other].add(index)
    return found


def lifted(scores: Sequence[float], near: Sequence[set[int]], share: float) -> list[float]:
    """``scores`` each raised by ``share`` of the gap to the best score among its neighbours ``near``."""
    result = []
    for score, others in zip(scores, near, strict=True):
        best = max((scores[other] for other in others), default=score)
        result.append(score + share * max(0.0, best - score))
    return result


def after_the_best_of_its_add(scores: Sequence[float], events: Sequence[str | None], factor: float) -> list[float]:
    """``scores`` with every memory of an add (``events``) but the best-scoring one multiplied by ``factor``; an add
    with more than :data:`SAME_ADD_LIMIT` candidates (a document's chunks) is left as it is."""
    result = list(scores)
    for indexes in _by_event(events).values():
        if len(indexes) > 1 and _one_exchange(indexes):
            best = max(indexes, key=lambda index: scores[index])
            for index in indexes:
                if index != best:
                    result[index] = scores[index] * factor
    return result


def _by_event(events: Sequence[str | None]) -> dict[str, list[int]]:
    """The indexes of ``events`` by add (memories without one left out)."""
    members: defaultdict[str, list[int]] = defaultdict(list)
    for index, event in enumerate(events):
        if event is not None:
            members[event].append(index)
    return members


def _one_exchange(indexes: Sequence[int]) -> bool:
    """True when an add's candidates (``indexes``) are few enough to be one exchange (:data:`SAME_ADD_LIMIT`)."""
    return len(indexes) <= SAME_ADD_LIMIT
