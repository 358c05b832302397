"""Extractors a test scripts: the Extractor protocol and the ExtractorChoice the ingestor takes (only the
database is never faked)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from mnemo.pipeline.extraction import ExtractionRequest, ExtractionResult, Extractor, Fact
from mnemo.storage import Vector

#: One scripted step: raise this exception, return these facts, or run this coroutine function.
Step = BaseException | Sequence[Fact] | Callable[[ExtractionRequest], Awaitable[ExtractionResult]]


class ScriptedExtractor:
    """Plays its steps in order, one per call (the last one repeats); records every request."""

    def __init__(self, *steps: Step, name: str = "scripted", self_contained: bool = True) -> None:
        self.steps = list(steps)
        self.requests: list[ExtractionRequest] = []
        self._name = name
        self._self_contained = self_contained

    @property
    def name(self) -> str:
        return self._name

    @property
    def self_contained(self) -> bool:
        return self._self_contained

    async def extract(self, request: ExtractionRequest) -> ExtractionResult:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return await step(request)
        return ExtractionResult(facts=list(step))


class Choice:
    """An ExtractorChoice that gives every project the same extractor and fallback."""

    def __init__(self, extractor: Extractor, fallback: Extractor | None = None) -> None:
        self.extractor = extractor
        self.fallback = fallback

    def for_project(self, project_settings: object) -> tuple[Extractor, Extractor | None]:
        return self.extractor, self.fallback


def cosine(a: Vector, b: Vector) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def same_vector(a: Vector, b: Vector) -> bool:
    """The same text embedded twice (the session's embedder runs one text at a time: deterministic)."""
    return math.isclose(cosine(a, b), 1.0, abs_tol=1e-5)
