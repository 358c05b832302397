"""A memory's vector in its conversation: what it tells, read with the messages said just before it.

A reply such as "Yes, last Tuesday!" is found by what it answers only if its vector carries some of the messages
before it. Three ways to do that (``MNEMO_EMBEDDING_CONTEXT``):

- ``joint``: the model reads the message and the messages before it as one input. With two earlier
  messages that is ~3× the tokens of the message alone, and most of a verbatim add's time.
- ``mixed``: the message's own vector plus a fraction of each earlier message's own vector (``EARLIER_WEIGHT``,
  then ``DECAY`` for each message further back), normalised. The model reads only the message: the earlier
  messages' vectors were computed when they were added, and are remembered here (:class:`OwnVectors`). Adds cost
  ~40% less; on LoCoMo, vectors alone rank the evidence better than the joint input's, but the whole search
  (keywords, neighbours) ranks it ~1 point of recall@10 worse (bench/README.md).
- ``deferred``: a verbatim add stores the mixed vector, and queues the joint input for a worker, which replaces the
  vector when its process is idle (mnemo.worker.final_vectors). Adds as fast as ``mixed``, searches as good as
  ``joint`` once the workers have caught up. Work that no caller waits for (an inferred add's facts, ``mnemo
  reembed``) is embedded jointly at once, and so are the adds while the workers are behind (:class:`Backlog`): the
  queue cannot grow without bound under a load that never pauses.

Either way, a message's own text is what it tells (:func:`told_text`), with its speaker's name.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mnemo.domain.memories import ContextMode, embedding_text, index_text
from mnemo.pipeline.extraction import Message
from mnemo.pipeline.offline_extractor import off_the_loop, told
from mnemo.providers.embedding.base import Vectors

#: The weight of the message just before, against the message's own 1.
EARLIER_WEIGHT = 0.4
#: Each message further back weighs this much of the one after it.
DECAY = 0.7
#: How many messages' own vectors a process remembers, for the messages that follow them.
REMEMBERED = 8192
#: How often a process asks how long the oldest one has waited.
BACKLOG_REFRESH_SECONDS = 1.0


class TextEmbedder(Protocol):
    async def embed(self, texts: Sequence[str]) -> Vectors: ...


def told_text(content: str, speaker: str | None) -> tuple[str, bool]:
    """What a message kept verbatim gives its vector, and whether it is small talk: the sentences that tell something
    (:func:`told`), or the whole message when none does, with its speaker's name."""
    telling = told(content)
    return index_text(" ".join(telling) or content, speaker), not telling


def told_texts(messages: Sequence[Message]) -> list[tuple[str, bool]]:
    """:func:`told_text` of each message."""
    return [told_text(message.content, message.name) for message in messages]


@dataclass(frozen=True, slots=True)
class Target:
    """A text to embed in its context.

    ``own``: the text itself (as :func:`told_text` gives it, for a message). ``window``: the messages said before
    it, oldest first. ``said``: when the target is a message, the message as said, so that the messages after it
    find its own vector (:class:`OwnVectors`)."""

    own: str
    window: Sequence[Message]
    said: Message | None = None


def in_context(own: Vectors, earlier: Sequence[Vectors]) -> Vectors:
    """``own`` plus the ``earlier`` vectors (oldest first) at their weights, normalised."""
    mixed = own.astype(np.float32, copy=True)
    weight = EARLIER_WEIGHT
    for vector in reversed(earlier):
        mixed += weight * vector
        weight *= DECAY
    norm = float(np.linalg.norm(mixed))
    result: Vectors = mixed / norm if norm > 0 else mixed
    return result


def _joint_input(target: Target) -> str:
    return embedding_text(target.own, [_said(m) for m in target.window])


def _said(message: Message) -> str:
    return index_text(message.content, message.name)


class OwnVectors:
    """The own vectors of the messages a process embedded last, by project and message as said (least recently used
    forgotten first). Keyed by project too: whether a text was seen must not leak between tenants through timing."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], Vectors] = OrderedDict()

    def get(self, project: str, said: str) -> Vectors | None:
        key = (project, said)
        vector = self._vectors.get(key)
        if vector is not None:
            self._vectors.move_to_end(key)
        return vector

    def put(self, project: str, said: str, vector: Vectors) -> None:
        key = (project, said)
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while len(self._vectors) > self._size:
            self._vectors.popitem(last=False)


class Backlog:
    """Whether the workers are behind on the queued final vectors (``deferred``): its oldest has waited more than
    ``behind_seconds``. Asked at most every ``refresh_seconds``; the answer is kept meanwhile."""

    def __init__(
        self,
        oldest_wait: Callable[[], Awaitable[float]],
        *,
        behind_seconds: float,
        refresh_seconds: float = BACKLOG_REFRESH_SECONDS,
    ) -> None:
        self._oldest_wait = oldest_wait
        self.behind_seconds = behind_seconds
        self.refresh_seconds = refresh_seconds
        self._behind = False
        self._asked_at = -refresh_seconds

    async def behind(self) -> bool:
        now = time.monotonic()
        if now - self._asked_at >= self.refresh_seconds:
            self._asked_at = now
            self._behind = await self._oldest_wait() > self.behind_seconds
        return self._behind


class ContextEmbedder:
    """Embeds targets in their context, jointly or mixed (module docstring)."""

    def __init__(
        self,
        embedder: TextEmbedder,
        mode: ContextMode,
        *,
        remembered: int = REMEMBERED,
        backlog: Backlog | None = None,
    ) -> None:
        self.embedder = embedder
        self.mode: ContextMode = mode
        self._own = OwnVectors(remembered)
        #: under ``deferred``: while the workers are behind, :meth:`quick` gives the final vectors
        self.backlog = backlog

    async def final(self, project: str, targets: Sequence[Target]) -> Vectors:
        """One vector per target, to keep: joint (``joint``, ``deferred``) or mixed; in one batch of the embedder."""
        if self.mode == "mixed":
            return await self._mixed(project, targets)
        return await self._joint(targets)

    async def quick(self, project: str, targets: Sequence[Target]) -> tuple[Vectors, list[str | None]]:
        """One vector per target, for a caller who waits: with ``deferred``, the mixed vector and, for each target
        with context, the input of its final vector (for a worker); otherwise, or while the workers are behind, the
        final vector and no input."""
        if self.mode != "deferred" or (self.backlog is not None and await self.backlog.behind()):
            return await self.final(project, targets), [None] * len(targets)
        later = [_joint_input(t) if t.window else None for t in targets]
        return await self._mixed(project, targets), later

    async def _joint(self, targets: Sequence[Target]) -> Vectors:
        return await self.embedder.embed([_joint_input(t) for t in targets])

    async def _mixed(self, project: str, targets: Sequence[Target]) -> Vectors:
        known: dict[str, Vectors] = {}
        coming = {_said(t.said) for t in targets if t.said is not None}
        missing: dict[str, Message] = {}
        for target in targets:
            for message in target.window:
                said = _said(message)
                if said in known or said in coming or said in missing:
                    continue
                vector = self._own.get(project, said)
                if vector is None:
                    missing[said] = message
                else:
                    known[said] = vector
        earlier = list(missing.values())
        told = await off_the_loop(earlier, told_texts, earlier)
        vectors = await self.embedder.embed([t.own for t in targets] + [own for own, _ in told])
        own_vectors = vectors[: len(targets)]
        for said, vector in zip(missing, vectors[len(targets) :], strict=True):
            known[said] = vector
            self._own.put(project, said, vector)
        for target, vector in zip(targets, own_vectors, strict=True):
            if target.said is not None:
                said = _said(target.said)
                known[said] = vector
                self._own.put(project, said, vector)
        mixed = [
            in_context(vector, [known[_said(m)] for m in target.window])
            for target, vector in zip(targets, own_vectors, strict=True)
        ]
        if not mixed:
            return vectors
        result: Vectors = np.stack(mixed)
        return result
