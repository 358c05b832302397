"""Optional LLM re-ranking of a search's best results (``rerank: true``).

One call shows the query and the top candidates under short refs and asks for them in order of
relevance. The LLM is the one the project's LLM profile names (as for extraction), never another: a
profile without an LLM, or one the deployment no longer defines, leaves the results as they are. Any
failure keeps the fused order and says so: re-ranking never fails a search.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from mnemo.domain.projects import ProjectSettings
from mnemo.providers.llm.base import LLM, ChatMessage, LLMError
from mnemo.providers.llm.profiles import DEFAULT_PROFILE, ProjectLLM, UnknownProfile
from mnemo.providers.llm.replies import reply_json

logger = logging.getLogger(__name__)

#: How many of the best results are shown to the reranker.
RERANK_WINDOW = 20

_SYSTEM = (
    "You rank stored memories by how well they help answer a question. "
    'Reply with JSON only: {"order": [refs of the memories, most useful first]}. '
    "Include every ref exactly once."
)
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"order": {"type": "array", "items": {"type": "string"}}},
    "required": ["order"],
}


@dataclass(frozen=True, slots=True)
class RerankOutcome:
    results: list[dict[str, Any]]
    applied: bool
    by: str | None
    detail: str


class ProjectLLMs(Protocol):
    """Which LLM a project's settings select."""

    def for_project(self, project_settings: ProjectSettings) -> ProjectLLM:
        """Raises :class:`~mnemo.providers.llm.profiles.UnknownProfile` for a profile the deployment lacks."""
        ...


class ProjectReranker:
    """Re-ranks with the LLM of the project's profile and model."""

    def __init__(self, llms: ProjectLLMs) -> None:
        self.llms = llms

    async def rerank(
        self, project_settings: ProjectSettings, query: str, results: list[dict[str, Any]]
    ) -> RerankOutcome:
        try:
            picked = self.llms.for_project(project_settings)
        except UnknownProfile as exc:
            return RerankOutcome(results, False, None, f"{exc} Results keep the fused order.")
        if picked.llm is None:
            if picked.choice.profile == DEFAULT_PROFILE:
                detail = "No reranker is configured (set MNEMO_LLM_PROVIDER); results keep the fused order."
            else:
                detail = (
                    f"The project's LLM profile {picked.choice.profile!r} has no LLM (provider none);"
                    " results keep the fused order."
                )
            return RerankOutcome(results, False, None, detail)
        return await LLMReranker(picked.llm).rerank(query, results)


class LLMReranker:
    def __init__(self, llm: LLM) -> None:
        self.llm = llm

    async def rerank(self, query: str, results: list[dict[str, Any]]) -> RerankOutcome:
        window, rest = results[:RERANK_WINDOW], results[RERANK_WINDOW:]
        if len(window) < 2:
            return RerankOutcome(results, False, None, "Fewer than two results: nothing to re-rank.")
        listing = "\n".join(f"[{index}] {item['memory']}" for index, item in enumerate(window))
        prompt = f"Question: {query}\n\nMemories:\n{listing}"
        try:
            reply = await self.llm.complete(system=_SYSTEM, messages=[ChatMessage("user", prompt)], json_schema=_SCHEMA)
            order = _parse_order(reply.text, len(window))
        except (LLMError, ValueError) as exc:
            logger.warning("re-ranking failed, keeping the fused order: %s", exc)
            return RerankOutcome(results, False, self.llm.name, f"Re-ranking failed ({exc}); fused order kept.")
        return RerankOutcome([window[i] for i in order] + rest, True, self.llm.name, "Re-ranked by the LLM.")


def _parse_order(text: str, size: int) -> list[int]:
    """The permutation the model gave; refs it forgot keep their fused order at the end."""
    data = reply_json(text)
    if not isinstance(data, dict) or not isinstance(data.get("order"), list):
        raise ValueError('expected {"order": [...]}')
    order: list[int] = []
    for ref in data["order"]:
        index = int(str(ref).strip("[] "))
        if 0 <= index < size and index not in order:
            order.append(index)
    if not order:
        raise ValueError("the reply named none of the refs")
    return order + [index for index in range(size) if index not in order]
