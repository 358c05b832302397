"""Offline supersede: which current memories a new memory's claims replace (see :mod:`mnemo.pipeline.claims`).

Links are found before the write transaction (:func:`claim_links`) and applied inside it
(:func:`supersede_by_claims`), where the memory store locks both ends of each link.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mnemo.domain.memories import MemoryRecord
from mnemo.domain.selection import parse_selection
from mnemo.pipeline import claims
from mnemo.storage import NewMemory, ProjectData, ProjectTables, ReadOptions

#: How many of the scope's current memories (newest first) that may state a claim's attribute are compared
#: with a new fact's claims.
_CLAIM_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class ClaimLinks:
    """What a new memory's claims supersede, decided before the write transaction."""

    #: current memories dated no later than the new one that it replaces
    older: list[uuid.UUID]
    #: the earliest current memory dated after the new one that replaces it (adds processed out of order)
    newer: uuid.UUID | None


async def claim_links(data: ProjectData, memories: Sequence[NewMemory]) -> dict[str, ClaimLinks]:
    """For each new memory stating a claim (subject, attribute, value): the current memories of exactly its
    scope that state the same subject and attribute with another value. The later-dated one of each pair
    supersedes the earlier one, provided the earlier one's claim is all it says (see mnemo.pipeline.claims).
    Keyed by the new memory's hash."""
    links: dict[str, ClaimLinks] = {}
    for memory in memories:
        found = claims.claims_in(memory.text)
        if not found:
            continue
        candidates = await _candidates(data, memory, found)
        older = [
            record.id
            for record in candidates
            if record.created_at <= memory.created_at and claims.supersedes(memory.text, record.memory)
        ]
        newer = [
            record
            for record in candidates
            if record.created_at > memory.created_at and claims.supersedes(record.memory, memory.text)
        ]
        if older or newer:
            first = min(newer, key=lambda record: record.created_at).id if newer else None
            links[memory.hash] = ClaimLinks(older, first)
    return links


async def _candidates(data: ProjectData, memory: NewMemory, found: Sequence[claims.Claim]) -> list[MemoryRecord]:
    """Current memories of exactly the memory's scope that name the claims' subject and may state one of
    their attributes (their text contains one of the attributes' cue words), newest first."""
    parts: list[dict[str, Any]] = [
        {key: value} if value else {"NOT": {key: "*"}} for key, value in memory.scope.as_dict().items()
    ]
    parts.append({"OR": [{"text": {"icontains": subject}} for subject in {claim.subject for claim in found}]})
    parts.append({"OR": [{"text": {"icontains": cue}} for cue in claims.cues_for(found)]})
    selection = parse_selection({"AND": parts})
    async with data.reading() as tables:
        _, records = await tables.memories.page(
            selection, ReadOptions(latest_only=True), offset=0, limit=_CLAIM_CANDIDATES
        )
    return records


async def supersede_by_claims(
    tables: ProjectTables, written: Sequence[MemoryRecord], links: Mapping[str, ClaimLinks]
) -> int:
    """Inside the write transaction: apply the links of the memories actually written; returns how many
    memories were superseded."""
    count = 0
    for record in written:
        link = links.get(record.hash)
        if link is None:
            continue
        if link.older:
            count += await tables.memories.supersede(link.older, record.id)
        if link.newer is not None:
            count += await tables.memories.supersede([record.id], link.newer)
    return count
