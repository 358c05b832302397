"""What feedback does to search (:mod:`mnemo.domain.feedback`): the weight of each candidate that has some."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from mnemo.domain.feedback import SEARCH_WEIGHTS
from mnemo.storage import Candidate


def feedback_weights(candidates: Sequence[Candidate]) -> dict[uuid.UUID, float]:
    """The search weight of those of ``candidates`` whose feedback changes their score (the feedback is read
    with each candidate's row, so this asks the database nothing)."""
    weights = {c.id: SEARCH_WEIGHTS[c.feedback] for c in candidates if c.feedback}
    return {memory_id: weight for memory_id, weight in weights.items() if weight != 1.0}
