"""When a failed attempt runs again, and when it ends the job: the one place this is decided.

* A dependency that is down or busy (:class:`~mnemo.errors.Unavailable`: the database, the embedder,
  the LLM) and an I/O error are transient: the job runs again after a backoff, until its attempts are
  spent.
* Extraction that produced nothing trustworthy (:class:`ExtractionFailed`) and any other
  :class:`~mnemo.errors.MnemoError` (bad input, which no retry changes) end the job FAILED at once,
  with the cause; a model's malformed output is kept for inspection.
* Any other exception is a crash: retried like a transient failure (it may have been one), and the
  event keeps the error.

Attempts are counted when a job is claimed, so an attempt that kills its process counts too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mnemo.errors import MnemoError, Unavailable
from mnemo.pipeline.extraction import ExtractionFailed
from mnemo.storage import Job

#: How much of a model's malformed output an event keeps for inspection.
RAW_OUTPUT_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Retry:
    """Run the job again after ``delay``."""

    error: str
    delay: timedelta


@dataclass(frozen=True, slots=True)
class GiveUp:
    """End the job FAILED."""

    error: str
    metadata: dict[str, Any] | None = None


Decision = Retry | GiveUp


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits up to ``base * 2**n`` seconds, at most ``cap``."""

    base_seconds: float = 1.0
    cap_seconds: float = 300.0

    def delay(self, attempt: int) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**attempt)
        return timedelta(seconds=random.uniform(min(0.5, ceiling), ceiling))

    @staticmethod
    def is_last_attempt(job: Job) -> bool:
        """Whether a failure of this attempt would end the job (the pipeline then uses its fallbacks)."""
        return job.attempts >= job.max_attempts

    def decide(self, job: Job, exc: BaseException) -> Decision:
        """What to do after ``exc`` ended this attempt of ``job``."""
        error = f"{type(exc).__name__}: {exc.detail if isinstance(exc, MnemoError) else exc}"
        if isinstance(exc, ExtractionFailed):
            metadata = {"raw_output": exc.raw_output[:RAW_OUTPUT_LIMIT]} if exc.raw_output else None
            return GiveUp(error, metadata)
        transient = isinstance(exc, Unavailable | OSError) or not isinstance(exc, MnemoError)
        if transient and not self.is_last_attempt(job):
            return Retry(error, self.delay(job.attempts))
        return GiveUp(error)
