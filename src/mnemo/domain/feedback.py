"""Feedback on a memory (``POST /v1/feedback/``) and what it does to search.

The latest feedback on a memory wins; ``null`` clears it. Search multiplies a memory's fused score by its
feedback's weight before ranking (and before the threshold and ``top_k`` cut): a ``NEGATIVE`` memory keeps
half its score, a ``VERY_NEGATIVE`` one is left out of search altogether (get-all and get still show it, with
its feedback, so it can be reviewed and the feedback cleared). ``POSITIVE`` is recorded and changes nothing:
a memory's score says how well it answers the query, and a liked memory does not answer more questions.
"""

from __future__ import annotations

from typing import Literal

Feedback = Literal["POSITIVE", "NEGATIVE", "VERY_NEGATIVE"]
FEEDBACK_VALUES: tuple[Feedback, ...] = ("POSITIVE", "NEGATIVE", "VERY_NEGATIVE")

#: What search multiplies a memory's fused score by; 0 leaves the memory out of search.
SEARCH_WEIGHTS: dict[str, float] = {"POSITIVE": 1.0, "NEGATIVE": 0.5, "VERY_NEGATIVE": 0.0}
