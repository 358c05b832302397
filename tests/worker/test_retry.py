"""The retry policy (``mnemo.worker.retry``): what each kind of failure does to a job, and the backoff."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from mnemo.domain.events import EventType
from mnemo.errors import (
    BadRequest,
    Conflict,
    DatabaseUnavailable,
    MnemoError,
    NotFound,
    PayloadTooLarge,
    StorageFault,
    Unavailable,
    ValueRejected,
)
from mnemo.pipeline.extraction import ExtractionFailed, ExtractionUnavailable
from mnemo.providers.embedding.base import EmbedderUnavailable
from mnemo.storage import Job
from mnemo.worker.retry import RAW_OUTPUT_LIMIT, GiveUp, Retry, RetryPolicy


def job(attempts: int, max_attempts: int = 5) -> Job:
    return Job("proj", uuid.uuid4(), EventType.ADD, {}, attempts, max_attempts)


TRANSIENT: list[BaseException] = [
    Unavailable("busy"),
    DatabaseUnavailable("the database is away"),
    ExtractionUnavailable("the LLM is down"),
    EmbedderUnavailable("the embedder is down"),
    OSError("connection reset"),
    TimeoutError("timed out"),
    RuntimeError("a crash"),  # not a MnemoError: it may have been transient
    KeyError("a bug"),
]
FINAL: list[MnemoError] = [
    BadRequest("messages must not be empty"),
    ValueRejected("a value could not be stored"),
    PayloadTooLarge("too many messages"),
    NotFound("no such project"),
    Conflict("already there"),
    StorageFault("a statement failed"),
]


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_a_transient_failure_is_retried_while_attempts_remain(exc: BaseException) -> None:
    decision = RetryPolicy().decide(job(attempts=1), exc)
    assert isinstance(decision, Retry)
    assert decision.delay > timedelta(0)


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_a_transient_failure_on_the_last_attempt_ends_the_job(exc: BaseException) -> None:
    decision = RetryPolicy().decide(job(attempts=5), exc)
    assert isinstance(decision, GiveUp)
    assert decision.metadata is None


@pytest.mark.parametrize("exc", FINAL, ids=lambda e: type(e).__name__)
def test_bad_input_and_bugs_of_mnemo_end_the_job_at_once(exc: MnemoError) -> None:
    decision = RetryPolicy().decide(job(attempts=1), exc)
    assert decision == GiveUp(f"{type(exc).__name__}: {exc.detail}")


def test_extraction_that_failed_ends_the_job_keeping_a_bounded_part_of_the_output() -> None:
    raw = "x" * (RAW_OUTPUT_LIMIT + 100)
    decision = RetryPolicy().decide(job(attempts=1), ExtractionFailed("not JSON", raw_output=raw))
    assert decision == GiveUp("ExtractionFailed: not JSON", {"raw_output": "x" * RAW_OUTPUT_LIMIT})
    assert RetryPolicy().decide(job(attempts=1), ExtractionFailed("no profile")) == GiveUp(
        "ExtractionFailed: no profile", None
    )


def test_the_error_names_the_exception_and_its_detail() -> None:
    assert RetryPolicy().decide(job(attempts=1), DatabaseUnavailable("gone")).error == "DatabaseUnavailable: gone"
    assert RetryPolicy().decide(job(attempts=1), RuntimeError("boom")).error == "RuntimeError: boom"


def test_the_last_attempt_is_the_one_that_reaches_max_attempts() -> None:
    assert not RetryPolicy.is_last_attempt(job(attempts=4, max_attempts=5))
    assert RetryPolicy.is_last_attempt(job(attempts=5, max_attempts=5))
    assert RetryPolicy.is_last_attempt(job(attempts=1, max_attempts=1))


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 30.0), (20, 30.0)]:
        delays = {policy.delay(attempt).total_seconds() for _ in range(200)}
        assert all(0.5 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) > ceiling * 0.75, "the whole range is used"
        assert len(delays) > 1, "jittered"
    tiny = RetryPolicy(base_seconds=0.01, cap_seconds=0.01)
    assert tiny.delay(3) == timedelta(seconds=0.01), "a ceiling under half a second is the delay"
