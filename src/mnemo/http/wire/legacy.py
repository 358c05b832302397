"""The answers of the routes older clients call (``mnemo.http.routes.legacy``): v1 add, get-all and search in
their two output formats, and v2 get-all."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from mnemo.http.wire import AddedMemory, MemoryFields, SearchHitFields


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class V1AddQueued(_Wire):
    """``async_mode`` true (the default), or an add still running when the wait ended: poll its event. FAILED:
    an ``async_mode: false`` add whose extraction failed (``message`` says why)."""

    message: str
    status: Literal["PENDING", "FAILED"]
    event_id: UUID


V1AddItem = AddedMemory | V1AddQueued


class V1AddResults(_Wire):
    results: list[V1AddItem]


class V1MemoryResults(_Wire):
    results: list[MemoryFields]  # type: ignore[valid-type]


class V1SearchResults(_Wire):
    results: list[SearchHitFields]  # type: ignore[valid-type]


def _one_of(schema: dict[str, Any]) -> None:
    """A list and an object never both match: the schema says ``oneOf`` (pydantic writes ``anyOf``)."""
    schema["oneOf"] = schema.pop("anyOf")


_BY_OUTPUT_FORMAT = Field(description="output_format v1.0: a list; v1.1: an object", json_schema_extra=_one_of)
#: ``output_format`` v1.0: a bare list; v1.1: ``{"results": [...]}``.
V1AddResponse = Annotated[list[V1AddItem] | V1AddResults, _BY_OUTPUT_FORMAT]
V1MemoryList = Annotated[list[MemoryFields] | V1MemoryResults, _BY_OUTPUT_FORMAT]  # type: ignore[valid-type]
V1SearchResponse = Annotated[list[SearchHitFields] | V1SearchResults, _BY_OUTPUT_FORMAT]  # type: ignore[valid-type]
#: v2 get-all: one page of memories (``page``/``page_size`` in the body), no count or links.
V2MemoryList = V1MemoryResults
