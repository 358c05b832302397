"""Summaries and profiles without an LLM: deterministic, from what extraction already recorded.

Both read the current memories (not superseded), newest first:

* a **summary** groups them by their first category (largest group first, ties by name) and lists each
  group's most recent memories; its prose names the groups and their newest facts;
* a **profile** takes the claims the memories state (:mod:`mnemo.pipeline.claims`: where the person lives,
  works, their age, partner, favourites...), the newest claim of each attribute winning, and each category's
  most recent memories as ``topics``. With a profile schema, each schema property is filled from the claim or
  category its name means (``location`` ← residence, ``job`` ← occupation, ``food`` ← the food memories...),
  else null (and when no property could be filled, ``topics`` is added). Never empty when there are memories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mnemo.domain.memories import MemoryRecord
from mnemo.pipeline.categories import FALLBACK_CATEGORY
from mnemo.pipeline.claims import claims_in

#: Memories shown per category.
PER_SECTION = 5


@dataclass(frozen=True, slots=True)
class Section:
    category: str
    records: list[MemoryRecord]

    @property
    def newest(self) -> list[MemoryRecord]:
        return self.records[:PER_SECTION]


def sections(records: Sequence[MemoryRecord]) -> list[Section]:
    """``records`` (newest first) by their first category, largest group first."""
    groups: dict[str, list[MemoryRecord]] = defaultdict(list)
    for record in records:
        groups[record.categories[0] if record.categories else FALLBACK_CATEGORY].append(record)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Section(category, members) for category, members in ordered]


def summary_text(found: Sequence[Section], total: int) -> str:
    if not total:
        return "No memories match these filters."
    noun = "memory" if total == 1 else "memories"
    parts = [f"{total} {noun} in {len(found)} {'category' if len(found) == 1 else 'categories'}."]
    for section in found:
        facts = "; ".join(_sentence(record.memory) for record in section.records[:3])
        parts.append(f"{_label(section.category)} ({len(section.records)}): {facts}.")
    return " ".join(parts)


def _label(category: str) -> str:
    return category.replace("_", " ").capitalize()


def _sentence(text: str) -> str:
    one_line = " ".join(text.split())
    short = one_line if len(one_line) <= 200 else one_line[:199] + "…"
    return short.rstrip(".")


# --- profiles -----------------------------------------------------------------------------------------

#: Schema property names (lower case, separators dropped) and the claim attribute each one means.
_ATTRIBUTE_NAMES = {
    "residence": "residence",
    "location": "residence",
    "city": "residence",
    "home": "residence",
    "hometown": "residence",
    "homecity": "residence",
    "currentcity": "residence",
    "currentlocation": "residence",
    "basedin": "residence",
    "livesin": "residence",
    "employer": "employer",
    "company": "employer",
    "workplace": "employer",
    "occupation": "occupation",
    "job": "occupation",
    "jobtitle": "occupation",
    "role": "occupation",
    "profession": "occupation",
    "age": "age",
    "name": "name",
    "fullname": "name",
    "partner": "partner",
    "spouse": "partner",
    "relationshipstatus": "relationship status",
    "relationship": "relationship status",
}


def facts_of(records: Sequence[MemoryRecord]) -> dict[str, str]:
    """Each attribute the memories claim, with its newest value (``records`` newest first)."""
    facts: dict[str, str] = {}
    for record in records:
        for claim in claims_in(record.memory):
            facts.setdefault(claim.attribute, claim.value)
    return facts


def offline_profile(records: Sequence[MemoryRecord], schema: dict[str, Any] | None) -> dict[str, Any]:
    """The profile of the person whose current memories are ``records`` (newest first); {} without any."""
    if not records:
        return {}
    facts = facts_of(records)
    topics = {section.category: [record.memory for record in section.newest] for section in sections(records)}
    if schema is None:
        return {"facts": facts, "topics": topics}
    profile: dict[str, Any] = {}
    for name in schema.get("properties", {}):
        key = "".join(ch for ch in name.lower() if ch.isalnum())
        attribute = _ATTRIBUTE_NAMES.get(key, name.lower())
        profile[name] = facts.get(attribute) or topics.get(name) or topics.get(name.lower())
    if all(value is None for value in profile.values()):
        profile["topics"] = topics  # nothing the schema names could be read without an LLM: say what is known
    return profile
