"""What feedback does to search (:mod:`mnemo.domain.feedback`): the weight of each candidate that has some."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from mnemo.domain.feedback import SEARCH_WEIGHTS
from mnemo.storage import ProjectData


async def feedback_weights(data: ProjectData, memory_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]:
    """The search weight of those of ``memory_ids`` whose feedback changes their score (one indexed lookup)."""
    if not memory_ids:
        return {}
    async with data.reading() as tables:
        given = await tables.feedback.of(memory_ids)
    weights = {memory_id: SEARCH_WEIGHTS[found.feedback] for memory_id, found in given.items() if found.feedback}
    return {memory_id: weight for memory_id, weight in weights.items() if weight != 1.0}
