"""Request bodies of the routes older clients call (mem0ai Python 0.1.x/1.0.x, npm 2.x): v1 add and search,
v2 search and get-all. Each is the v3 body with the older defaults and the older knobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from mnemo.domain.requests import AddBody, ListBody, SearchBody

#: ``v1.0``: a bare JSON list; ``v1.1``: ``{"results": [...]}``.
OutputFormat = Literal["v1.0", "v1.1"]

NEEDS_AN_ENTITY = "At least one of the filters: agent_id, user_id, app_id, run_id is required!"


class V1AddBody(AddBody):
    """``POST /v1/memories/``. ``version`` names the hosted extraction generation (v1: update-in-place, v2:
    contextual); mnemo has one pipeline and runs it for both. ``async_mode`` (default true, as hosted since
    2025) queues the add; false waits for it."""

    version: Literal["v1", "v2"] | None = None
    output_format: OutputFormat = "v1.0"
    async_mode: bool = True


class _LegacySearch(SearchBody):
    def _entity_given(self) -> bool:
        return bool(self.filters) or self.top_level_scope() is not None


class V1SearchBody(_LegacySearch):
    """``POST /v1/memories/search/``: entity ids at the top level (or in ``filters``); no threshold (v1 had none)."""

    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    output_format: OutputFormat = "v1.0"

    @model_validator(mode="after")
    def _scoped(self) -> V1SearchBody:
        if not self._entity_given():
            raise ValueError(NEEDS_AN_ENTITY)
        return self


class V2SearchBody(_LegacySearch):
    """``POST /v2/memories/search/``: ``filters`` required; threshold 0.3 (spec §1.5). ``keyword_search`` and
    ``filter_memories`` are accepted: mnemo's search is always hybrid and always filtered."""

    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.3
    filter_memories: bool | None = None

    @model_validator(mode="after")
    def _filtered(self) -> V2SearchBody:
        if not self._entity_given():
            raise ValueError("filters is required on v2 search, e.g. {'filters': {'user_id': 'alice'}}.")
        return self


class V2ListBody(ListBody):
    """``POST /v2/memories/``: ``filters`` required; ``page``/``page_size`` in the body (default 1 and 100), or
    in the query string as the 1.0.x client sends them."""

    @model_validator(mode="after")
    def _filtered(self) -> V2ListBody:
        if not self.filters and self.top_level_scope() is None:
            raise ValueError(NEEDS_AN_ENTITY + " Give them in filters, e.g. {'filters': {'user_id': 'alice'}}.")
        return self


def shaped(results: list[Any], output_format: OutputFormat) -> list[Any] | dict[str, Any]:
    """A v1 answer: the bare list (``v1.0``) or ``{"results": [...]}`` (``v1.1``)."""
    return results if output_format == "v1.0" else {"results": results}
