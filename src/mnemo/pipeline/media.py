"""The parts of an add's messages beyond text: documents read and cut into memories, images described.

Runs in the worker (never in the request: fetching and PDF parsing take time), for inferred and verbatim adds
alike. Each part is used or skipped on its own, and the add's event lists every one (``metadata.media``):
a part that cannot be used never costs the others.

* documents (``pdf_url``, ``mdx_url``, ``txt_url``): read by :class:`~mnemo.providers.documents.DocumentFetcher`
  (``data:`` URLs always; ``http(s)`` only from the allowed hosts), their text extracted (PDF with ``pypdf``;
  text and MDX decoded as UTF-8) and cut into chunks (:func:`mnemo.domain.content.chunk_text`), each stored as a
  memory of the message's speaker, verbatim;
* images (``image_url``): described by the project's LLM when its profile declares ``vision``; the description
  joins the message's text (``[image: ...]``), so extraction or a verbatim add keeps it. Without vision they
  are skipped;
* parts of another type are skipped.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from mnemo.domain.content import MAX_CHUNKS, Part, chunk_text
from mnemo.domain.projects import ProjectSettings
from mnemo.pipeline.extraction import Message, Role
from mnemo.providers.documents import DocumentFetcher, DocumentRefused
from mnemo.providers.llm.base import LLM, ChatMessage, LLMError

log = logging.getLogger(__name__)

DESCRIBE_IMAGE = (
    "You describe images for a long-term memory of a conversation. In one to three plain sentences, say what the"
    " image shows that someone might want to remember later: people, places, objects, any readable text. Do not"
    " guess at what is not visible."
)
#: How much of a URL the event shows (a data: URL is shown by its media type and length only).
_URL_CHARS = 200


class VisionChoice(Protocol):
    def vision_llm(self, project_settings: ProjectSettings) -> LLM | None:
        """The project's LLM when its profile declares vision, else None."""
        ...


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document, stored as one memory of the message's speaker."""

    text: str
    role: Role
    name: str | None


@dataclass(frozen=True, slots=True)
class ReadMedia:
    #: the messages, each with its images' descriptions joined to its text
    messages: tuple[Message, ...]
    chunks: list[Chunk]
    #: one entry per part beyond text: what it was, and whether it was used (and if not, why)
    report: list[dict[str, Any]]


class _NoVision:
    def vision_llm(self, project_settings: ProjectSettings) -> LLM | None:
        return None


class MediaReader:
    """Without arguments: data: URLs only (no remote host allowed), no image descriptions."""

    def __init__(self, fetcher: DocumentFetcher | None = None, vision: VisionChoice | None = None) -> None:
        self.fetcher = fetcher or DocumentFetcher((), max_bytes=5 * 1024 * 1024, timeout_seconds=10.0)
        self.vision = vision or _NoVision()

    async def read(self, messages: Sequence[Message], project_settings: ProjectSettings) -> ReadMedia:
        llm = self.vision.vision_llm(project_settings)
        read: list[Message] = []
        chunks: list[Chunk] = []
        report: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            descriptions = []
            for part in message.media:
                entry: dict[str, Any] = {"message": index, "type": part.type, "url": _shown(part.url)}
                report.append(entry)
                if part.kind == "image":
                    description = await self._describe(part, llm, entry)
                    if description:
                        descriptions.append(f"[image: {description}]")
                elif part.kind in ("pdf", "mdx", "txt"):
                    pieces = await self._document(part, entry)
                    chunks.extend(Chunk(piece, message.role, message.name) for piece in pieces)
                else:
                    _skip(entry, f"content parts of type {part.type!r} are not read by mnemo")
            text = "\n".join(item for item in (message.content, *descriptions) if item.strip())
            read.append(replace(message, content=text))
        return ReadMedia(tuple(read), chunks, report)

    async def _describe(self, part: Part, llm: LLM | None, entry: dict[str, Any]) -> str | None:
        if llm is None:
            _skip(entry, "the project's LLM profile does not declare vision (MNEMO_LLM_VISION)")
            return None
        try:
            reply = await llm.complete(
                system=DESCRIBE_IMAGE,
                messages=[ChatMessage("user", "Describe this image.", images=(part.url,))],
                json_schema=None,
            )
        except LLMError as exc:
            _skip(entry, f"the LLM could not describe it: {exc}"[:300])
            return None
        description = " ".join(reply.text.split())
        if not description:
            _skip(entry, "the LLM's description was empty")
            return None
        entry.update(status="used", description=description)
        return description

    async def _document(self, part: Part, entry: dict[str, Any]) -> list[str]:
        try:
            fetched = await self.fetcher.fetch(part.url)
            text = await asyncio.to_thread(_pdf_text, fetched.data) if part.kind == "pdf" else _plain(fetched.data)
        except DocumentRefused as exc:
            _skip(entry, str(exc))
            return []
        pieces = chunk_text(text)
        if not pieces:
            _skip(entry, "no text found in the document")
            return []
        entry.update(status="used", chunks=min(len(pieces), MAX_CHUNKS), characters=len(text))
        if len(pieces) > MAX_CHUNKS:
            entry["chunks_dropped"] = len(pieces) - MAX_CHUNKS
        return pieces[:MAX_CHUNKS]


def _skip(entry: dict[str, Any], reason: str) -> None:
    entry.update(status="skipped", reason=reason)


def _shown(url: str) -> str:
    if url.startswith("data:"):
        return f"{url.partition(',')[0]},… ({len(url)} characters)"
    return url if len(url) <= _URL_CHARS else url[: _URL_CHARS - 1] + "…"


def _plain(data: bytes) -> str:
    if b"\x00" in data:
        raise DocumentRefused("the document is binary, not text")
    return data.decode("utf-8", errors="replace")


def _pdf_text(data: bytes) -> str:
    """The text of a PDF's pages, a blank line between pages; DocumentRefused when it is no readable PDF."""
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentRefused(f"not a readable PDF: {type(exc).__name__}: {exc}"[:300]) from None
    return "\n\n".join(page.replace("\x00", "") for page in pages)
