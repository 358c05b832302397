"""The Prometheus metrics of one mnemo process, and the helpers the rest of mnemo records them with.

Each process (``serve``, ``serve --no-workers``, ``worker``) has its own registry and exposes it at ``/metrics``:
Prometheus scrapes every process, and queries aggregate over the ``instance`` label. ``prometheus_client``'s
multiprocess mode is not used: it exists for one server forking several workers behind one port (gunicorn),
which mnemo never does, and it would need a shared directory of memory-mapped files, no custom collectors and
cleanup after dead processes.

Queue and pool figures are gauges set when ``/metrics`` is scraped (:func:`observe_queue`, :func:`observe_pool`);
the queue is the deployment's (every process reports the same figures: aggregate with ``max``), the pool the
process's own. Recording is a no-op after :func:`disable` (``MNEMO_METRICS=false``).
"""

from __future__ import annotations

import gc
import math
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

from mnemo import __version__
from mnemo.domain.health import QueueStats

CONTENT_TYPE = CONTENT_TYPE_LATEST

# No ``*_created`` series beside each counter and histogram (they double the series and no query needs them).
disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped in prometheus_client)
REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0)
_LLM = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Info("mnemo_build", "The running mnemo.", registry=REGISTRY).info({"version": __version__})

HTTP_REQUESTS = Counter(
    "mnemo_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "mnemo_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by method, route template and status.",
    ["method", "route", "status"],
    buckets=_FAST,
    registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge("mnemo_http_requests_in_flight", "HTTP requests being handled now.", registry=REGISTRY)
ADDS = Counter(
    "mnemo_adds_total",
    "Adds accepted (answered 200): infer=true ones queued, infer=false ones stored.",
    ["infer"],
    registry=REGISTRY,
)
EVENTS_FINISHED = Counter(
    "mnemo_events_finished_total",
    "Attempts of add jobs that ended in this process: succeeded, failed (for good) or retried (will run again).",
    ["outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "mnemo_job_duration_seconds",
    "Time one attempt of an add job took (extraction, embedding, writing), by outcome.",
    ["outcome"],
    buckets=_SLOW,
    registry=REGISTRY,
)
QUEUE_PENDING = Gauge("mnemo_queue_pending_jobs", "Add jobs PENDING (deployment-wide).", registry=REGISTRY)
QUEUE_RUNNING = Gauge("mnemo_queue_running_jobs", "Add jobs RUNNING (deployment-wide).", registry=REGISTRY)
QUEUE_OLDEST = Gauge(
    "mnemo_queue_oldest_pending_age_seconds",
    "How long the oldest runnable PENDING job has waited (0: none waits; NaN: the database did not answer).",
    registry=REGISTRY,
)
WORKERS_LIVE = Gauge("mnemo_workers_live", "Worker processes heart-beating (deployment-wide).", registry=REGISTRY)
VECTORS_PENDING = Gauge(
    "mnemo_pending_final_vectors",
    "Memories whose final vector a worker has yet to compute (MNEMO_EMBEDDING_CONTEXT=deferred; deployment-wide).",
    registry=REGISTRY,
)
EXTRACTION = Histogram(
    "mnemo_extraction_duration_seconds",
    "Time one extraction took, by extractor (offline, llm) and outcome (ok, error).",
    ["extractor", "outcome"],
    buckets=_SLOW,
    registry=REGISTRY,
)
EMBED_BATCH_SIZE = Histogram(
    "mnemo_embedding_batch_texts",
    "Texts embedded together in one batch.",
    buckets=_BATCH,
    registry=REGISTRY,
)
EMBED_BATCH_DURATION = Histogram(
    "mnemo_embedding_batch_duration_seconds",
    "Time the embedder took for one batch.",
    buckets=_FAST,
    registry=REGISTRY,
)
EMBED_ERRORS = Counter("mnemo_embedding_errors_total", "Batches the embedder failed.", registry=REGISTRY)
LLM_CALLS = Counter(
    "mnemo_llm_calls_total", "LLM calls (retries included in one call), by profile.", ["profile"], registry=REGISTRY
)
LLM_ERRORS = Counter(
    "mnemo_llm_errors_total",
    "LLM calls that gave no usable reply, by profile and kind (unavailable, rejected, invalid).",
    ["profile", "kind"],
    registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "mnemo_llm_tokens_total",
    "Tokens the LLM reported, by profile and kind (prompt, completion).",
    ["profile", "kind"],
    registry=REGISTRY,
)
LLM_DURATION = Histogram(
    "mnemo_llm_call_duration_seconds",
    "Time of one LLM call (waiting for a slot and retries included), by profile.",
    ["profile"],
    buckets=_LLM,
    registry=REGISTRY,
)
POOL_SIZE = Gauge("mnemo_db_pool_connections", "Connections the process's pool holds open.", registry=REGISTRY)
POOL_IN_USE = Gauge("mnemo_db_pool_connections_in_use", "Connections of the pool lent out now.", registry=REGISTRY)
POOL_WAITING = Gauge(
    "mnemo_db_pool_requests_waiting", "Callers waiting for a connection of the pool.", registry=REGISTRY
)
POOL_MAX = Gauge("mnemo_db_pool_max_connections", "The pool's maximum size.", registry=REGISTRY)
Gauge(
    "mnemo_gc_frozen_objects",
    "Objects of the process's start that the garbage collector no longer scans (mnemo.server.settle_heap).",
    registry=REGISTRY,
).set_function(gc.get_freeze_count)
WEBHOOK_DELIVERIES = Counter(
    "mnemo_webhook_deliveries_total",
    "Webhook delivery attempts that ended in this process: delivered, retried (will run again) or failed (for good).",
    ["outcome"],
    registry=REGISTRY,
)


class _Switch:
    enabled = True


def disable() -> None:
    """Stop recording (``MNEMO_METRICS=false``): every helper below becomes a no-op."""
    _Switch.enabled = False


def enable() -> None:
    _Switch.enabled = True


def enabled() -> bool:
    return _Switch.enabled


def exposition() -> bytes:
    """The registry in Prometheus' text format."""
    return generate_latest(REGISTRY)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    if _Switch.enabled:
        code = str(status)
        HTTP_REQUESTS.labels(method, route, code).inc()
        HTTP_DURATION.labels(method, route, code).observe(seconds)


def request_started() -> None:
    if _Switch.enabled:
        HTTP_IN_FLIGHT.inc()


def request_ended() -> None:
    if _Switch.enabled:
        HTTP_IN_FLIGHT.dec()


def add_accepted(*, infer: bool) -> None:
    if _Switch.enabled:
        ADDS.labels("true" if infer else "false").inc()


JobOutcome = Literal["succeeded", "failed", "retried"]


def job_finished(outcome: JobOutcome, seconds: float) -> None:
    if _Switch.enabled:
        EVENTS_FINISHED.labels(outcome).inc()
        JOB_DURATION.labels(outcome).observe(seconds)


def webhook_delivery(outcome: Literal["delivered", "retried", "failed"]) -> None:
    if _Switch.enabled:
        WEBHOOK_DELIVERIES.labels(outcome).inc()


def extraction_done(extractor: Literal["offline", "llm"], *, ok: bool, seconds: float) -> None:
    if _Switch.enabled:
        EXTRACTION.labels(extractor, "ok" if ok else "error").observe(seconds)


def embedding_batch(texts: int, seconds: float, *, ok: bool) -> None:
    if _Switch.enabled:
        EMBED_BATCH_SIZE.observe(texts)
        EMBED_BATCH_DURATION.observe(seconds)
        if not ok:
            EMBED_ERRORS.inc()


LLMErrorKind = Literal["unavailable", "rejected", "invalid"]


def llm_call(
    profile: str,
    *,
    seconds: float,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    error: LLMErrorKind | None = None,
) -> None:
    if _Switch.enabled:
        LLM_CALLS.labels(profile).inc()
        LLM_DURATION.labels(profile).observe(seconds)
        if error is not None:
            LLM_ERRORS.labels(profile, error).inc()
        if prompt_tokens:
            LLM_TOKENS.labels(profile, "prompt").inc(prompt_tokens)
        if completion_tokens:
            LLM_TOKENS.labels(profile, "completion").inc(completion_tokens)


def observe_queue(queue: QueueStats | None) -> None:
    """The queue's figures at scrape time; None (the database did not answer in time) sets them to NaN."""
    if queue is None:
        for gauge in (QUEUE_PENDING, QUEUE_RUNNING, QUEUE_OLDEST, WORKERS_LIVE, VECTORS_PENDING):
            gauge.set(math.nan)
        return
    QUEUE_PENDING.set(queue.pending)
    QUEUE_RUNNING.set(queue.running)
    QUEUE_OLDEST.set(queue.oldest_pending_seconds or 0.0)
    WORKERS_LIVE.set(queue.live_workers)
    VECTORS_PENDING.set(queue.pending_vectors)


def observe_pool(*, size: int, in_use: int, waiting: int, max_size: int) -> None:
    POOL_SIZE.set(size)
    POOL_IN_USE.set(in_use)
    POOL_WAITING.set(waiting)
    POOL_MAX.set(max_size)
