"""Bounded responses: a list of results stops before its JSON passes :data:`MAX_RESPONSE_BYTES`.

A memory may carry up to a request body's worth of metadata, so a page of a thousand of them could be
gigabytes. Lists that can grow so (get-all, the events list, search results) are encoded item by item; the
answer keeps the longest run of items that fits (always at least one), and a paged list says where to go on:

- A page cut short keeps ``k`` items, where ``k`` divides the page's offset, and its ``next`` link asks for
  ``page_size=k`` at the page that starts right after them, so following ``next`` misses nothing and repeats
  nothing. ``count`` is still the total.
- Search has no pages: its results are cut, best first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from starlette.datastructures import URL
from starlette.responses import Response

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


def encoded_within(items: Iterable[Any], budget: int = MAX_RESPONSE_BYTES) -> list[bytes]:
    """The JSON of the longest run of ``items`` (from the first) whose total size stays within ``budget``, and
    always the first item."""
    kept: list[bytes] = []
    used = 0
    for item in items:
        data = to_json(item)
        used += len(data) + 1
        if kept and used > budget:
            break
        kept.append(data)
    return kept


def json_object(head: dict[str, Any], results: list[bytes]) -> Response:
    """``{**head, "results": [...]}`` from the already encoded results."""
    opening = to_json(head)[:-1] + (b',"results":[' if head else b'"results":[')
    return Response(opening + b",".join(results) + b"]}", media_type="application/json")


@dataclass(frozen=True, slots=True)
class Page:
    """What one page of a paged list answers: its encoded results and its ``next``/``previous`` links."""

    results: list[bytes]
    next: str | None
    previous: str | None

    def response(self, count: int) -> Response:
        return json_object({"count": count, "next": self.next, "previous": self.previous}, self.results)


def page_of(
    url: URL,
    items: list[Any],
    *,
    page: int,
    page_size: int,
    total: int,
    wire: Callable[[Any], Any],
    budget: int = MAX_RESPONSE_BYTES,
) -> Page:
    """The page ``page`` of ``page_size`` holding ``items`` (``wire`` makes each one's JSON), cut to the budget."""
    results = encoded_within(_lazy(wire, items), budget)
    offset = (page - 1) * page_size
    if len(results) == len(items):
        return Page(results, *links(url, page=page, page_size=page_size, total=total))
    kept = continuable(offset, len(results))
    results = results[:kept]
    next_url = str(url.include_query_params(page=offset // kept + 2, page_size=kept))
    _, previous_url = links(url, page=page, page_size=page_size, total=total)
    return Page(results, next_url, previous_url)


def continuable(offset: int, fits: int) -> int:
    """The largest ``k <= fits`` dividing ``offset`` (any ``k`` when the offset is 0): a page of ``k`` then ends
    exactly where page ``offset // k + 2`` of size ``k`` begins."""
    if offset == 0:
        return fits
    return next(k for k in range(fits, 0, -1) if offset % k == 0)


def links(url: URL, *, page: int, page_size: int, total: int) -> tuple[str | None, str | None]:
    """DRF-style absolute next/previous links that keep page_size."""
    next_url = None
    previous_url = None
    if page * page_size < total:
        next_url = str(url.include_query_params(page=page + 1, page_size=page_size))
    if page > 1:
        previous_url = str(url.include_query_params(page=page - 1, page_size=page_size))
    return next_url, previous_url


def _lazy(wire: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
    return (wire(item) for item in items)
