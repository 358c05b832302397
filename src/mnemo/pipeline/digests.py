"""Summaries and profiles written by the project's LLM, with the offline ones (:mod:`.digest_offline`) as floor.

The LLM is the one the project's LLM profile selects (as for extraction and re-ranking), never another. A
project without one, or a call that fails or answers nonsense, gets the offline result and is told why
(``detail`` / the profile's ``error``): a summary or a profile request never fails for want of an LLM.

The LLM sees at most :data:`MAX_MEMORIES` current memories (newest first) and :data:`MAX_PROMPT_CHARS` of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnemo.domain.memories import MemoryRecord
from mnemo.domain.projects import ProjectSettings
from mnemo.pipeline.digest_offline import offline_profile, sections, summary_text
from mnemo.pipeline.rerank import ProjectLLMs
from mnemo.providers.llm.base import LLM, ChatMessage, LLMError
from mnemo.providers.llm.profiles import UnknownProfile
from mnemo.providers.llm.replies import reply_json

logger = logging.getLogger(__name__)

MAX_MEMORIES = 200
MAX_PROMPT_CHARS = 24_000
OFFLINE = "offline"

_SUMMARY_SYSTEM = (
    "You summarise what a memory store knows. Write a short, factual summary (at most 8 sentences) of the"
    " memories you are given: who or what they are about, the main topics and the most recent facts. Use only"
    ' what the memories say. Reply with JSON only: {"summary": "..."}.'
)
_SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"summary": {"type": "string"}},
    "required": ["summary"],
}
_PROFILE_SYSTEM = (
    "You write the profile of a person from the memories stored about them. Use only what the memories say;"
    " when they disagree, the newer memory wins. Reply with one JSON object only."
)


@dataclass(frozen=True, slots=True)
class Written:
    """What a digest produced: its content, who wrote it ("offline" or the LLM's name), and why the offline
    version was used when an LLM was expected (else None)."""

    content: dict[str, Any]
    by: str
    detail: str | None


class MemoryDigests:
    def __init__(self, llms: ProjectLLMs) -> None:
        self.llms = llms

    def generator(self, project_settings: ProjectSettings) -> str:
        """Who writes the project's summaries and profiles: its LLM's name, or "offline"."""
        llm, _ = self._llm(project_settings)
        return llm.name if llm is not None else OFFLINE

    def _llm(self, project_settings: ProjectSettings) -> tuple[LLM | None, str | None]:
        """The project's LLM, or None and why not (None, None: the project chose no LLM)."""
        try:
            picked = self.llms.for_project(project_settings)
        except UnknownProfile as exc:
            return None, f"{exc} The offline version was used."
        return picked.llm, None

    async def summary(
        self, project_settings: ProjectSettings, records: Sequence[MemoryRecord], *, total: int
    ) -> Written:
        """The summary of ``records`` (current memories, newest first; ``total`` of them match in all)."""
        found = sections(records)
        shown = {
            "total_memories": total,
            "sections": [
                {
                    "category": section.category,
                    "count": len(section.records),
                    "memories": [
                        {"id": str(r.id), "memory": r.memory, "created_at": r.created_at.isoformat()}
                        for r in section.newest
                    ],
                }
                for section in found
            ],
        }
        offline = summary_text(found, total)
        llm, detail = self._llm(project_settings)
        if llm is None or not records:
            return Written({"summary": offline, **shown}, OFFLINE, detail)
        try:
            data = await _ask(llm, _SUMMARY_SYSTEM, _listing(records), _SUMMARY_SCHEMA)
            text = data.get("summary")
            if not isinstance(text, str) or not text.strip():
                raise ValueError('expected {"summary": "<non-empty text>"}')
        except (LLMError, ValueError) as exc:
            logger.warning("the LLM summary failed, answering the offline one: %s", exc)
            return Written({"summary": offline, **shown}, OFFLINE, f"The LLM summary failed ({exc}).")
        return Written({"summary": text.strip(), **shown}, llm.name, None)

    async def profile(
        self,
        project_settings: ProjectSettings,
        records: Sequence[MemoryRecord],
        *,
        schema: dict[str, Any] | None,
        instructions: str | None,
    ) -> Written:
        """The profile of the user whose current memories are ``records`` (newest first)."""
        offline = offline_profile(records, schema)
        llm, detail = self._llm(project_settings)
        if llm is None or not records:
            return Written(offline, OFFLINE, detail)
        task = (
            "Fill this JSON Schema (its property names exactly; null for what the memories do not say):\n"
            + json.dumps(schema)
            if schema is not None
            else 'Reply as {"facts": {attribute: value}, "topics": {topic: [short statements]}}.'
        )
        if instructions:
            task += f"\nInstructions: {instructions}"
        try:
            # The schema is the customer's: shown in the prompt, never enforced as a strict structured output
            # (providers refuse strict schemas that do not close every object), so any JSON object is asked for.
            data = await _ask(llm, _PROFILE_SYSTEM, f"{task}\n\n{_listing(records)}", None)
            if not data or all(value in (None, "", [], {}) for value in data.values()):
                raise ValueError("the reply is an empty profile")
        except (LLMError, ValueError) as exc:
            logger.warning("the LLM profile failed, keeping the offline one: %s", exc)
            return Written(offline, OFFLINE, f"The LLM profile failed ({exc}).")
        if schema is not None:
            data = {name: data.get(name) for name in schema.get("properties", {})}
        return Written(data, llm.name, None)


def _listing(records: Sequence[MemoryRecord]) -> str:
    lines: list[str] = []
    used = 0
    for record in records[:MAX_MEMORIES]:
        categories = f" [{', '.join(record.categories)}]" if record.categories else ""
        line = f"- ({record.created_at.date().isoformat()}){categories} {' '.join(record.memory.split())}"
        used += len(line) + 1
        if lines and used > MAX_PROMPT_CHARS:
            break
        lines.append(line)
    return "Memories, newest first:\n" + "\n".join(lines)


async def _ask(llm: LLM, system: str, prompt: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    reply = await llm.complete(system=system, messages=[ChatMessage("user", prompt)], json_schema=schema)
    data = reply_json(reply.text)
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    return data
