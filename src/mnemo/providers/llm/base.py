"""The LLM port, its errors, and the retrying, concurrency-limited JSON-over-HTTP transport.

An :class:`LLM` turns a system prompt and a short conversation into one text reply. Providers speak a
wire format (OpenAI-compatible chat completions, Anthropic Messages) and share :class:`JSONEndpoint`,
which owns the HTTP client, the per-instance concurrency limit and the retry loop (:func:`with_retries`).

Errors: :class:`LLMUnavailable` means "try again later" (connection failures, timeouts, 408, 429 and 5xx,
once the retries are spent); :class:`LLMRejected` means the server refused the request and repeating it
will not help (a bad key, an unknown model: other 4xx); a bare :class:`LLMError` means the server answered
but the answer is not a usable reply (not JSON, no text, a refusal).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, Self, TypeVar

import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

ChatRole = Literal["user", "assistant"]

#: How much of an error body ends up in an exception message.
_DETAIL_CHARS = 300


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of the conversation sent to the LLM (the system prompt travels separately). ``images`` are
    http(s) or ``data:`` URLs shown to a model that reads images, before the text."""

    role: ChatRole
    content: str
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LLMReply:
    """The model's text and what it cost.

    ``latency_ms`` is the wall time of the whole :meth:`LLM.complete` call, waiting for a concurrency
    slot and retries included. ``finish_reason`` is the provider's own word for why generation stopped
    (``"stop"``, ``"length"``, ``"end_turn"``, ``"max_tokens"``...), when it says.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """True when the model stopped because it hit its output token limit."""
        return self.finish_reason in ("length", "max_tokens")


class LLMError(Exception):
    """The LLM call produced no usable reply. Subclasses say whether trying again later may help."""


class LLMUnavailable(LLMError):
    """Retryable: connection error, timeout, 408, 429 or 5xx (raised to callers once retries are spent).

    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LLMRejected(LLMError):
    """Not retryable: the server refused the request (4xx other than 408/429), e.g. a bad key or model."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class LLM(Protocol):
    """A chat model behind some wire format."""

    @property
    def name(self) -> str:
        """Provider and model, e.g. ``"openai-compat:gpt-4o-mini"`` (recorded with what it produced)."""
        ...

    async def complete(
        self, *, system: str, messages: list[ChatMessage], json_schema: dict[str, Any] | None
    ) -> LLMReply:
        """One reply to ``messages``. ``json_schema`` asks for a JSON reply of that shape where the
        provider can enforce it (the prompt must still describe the format). Raises :class:`LLMError`."""
        ...

    async def aclose(self) -> None:
        """Release the provider's connections."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one :meth:`LLM.complete` call tries.

    ``max_attempts`` counts the first try. Delays between attempts use full jitter, uniform in
    ``[0, min(max_delay, base_delay * 2**(attempt - 1))]``, unless the server sent ``Retry-After``, which is
    honoured as given. ``total_timeout`` bounds everything: waiting for a slot, requests and delays.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0
    total_timeout: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.total_timeout <= 0:
            raise ValueError("delays must be >= 0 and total_timeout > 0")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The jittered delay after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date; None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite
        return None
    return max(0.0, seconds)


def retry_after_from(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` (sent by some OpenAI-compatible servers) or the standard ``Retry-After``."""
    millis = parse_retry_after(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    return parse_retry_after(headers.get("retry-after"))


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    what: str,
    limit: asyncio.Semaphore | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, retrying :class:`LLMUnavailable` as ``policy`` allows.

    Each attempt holds a slot of ``limit`` (when given) only while it runs, not while backing off. Any
    other exception propagates at once. Never runs past ``policy.total_timeout``: an attempt still running
    at the deadline is cancelled, and a delay that would end after it is not waited for.
    """
    rng = rng or random.Random()
    deadline = time.monotonic() + policy.total_timeout
    last: LLMUnavailable | None = None
    for number in range(1, policy.max_attempts + 1):
        try:
            return await _bounded_attempt(attempt, deadline, limit)
        except TimeoutError as exc:
            raise _out_of_time(what, policy, number, last) from exc
        except LLMUnavailable as exc:
            last = exc
        if number == policy.max_attempts:
            break
        delay = last.retry_after if last.retry_after is not None else policy.backoff(number, rng)
        if time.monotonic() + delay >= deadline:
            raise LLMUnavailable(
                f"{what}: giving up after {number} attempt(s), waiting {delay:.1f}s more would exceed the "
                f"total timeout of {policy.total_timeout:g}s; last error: {last}"
            ) from last
        log.warning("%s: attempt %d failed (%s); retrying in %.2fs", what, number, last, delay)
        await asyncio.sleep(delay)
    message = f"{what}: failed after {policy.max_attempts} attempt(s); last error: {last}"
    raise LLMUnavailable(message) from last


async def _bounded_attempt(
    attempt: Callable[[], Awaitable[T]],
    deadline: float,
    limit: asyncio.Semaphore | None,
) -> T:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    async with asyncio.timeout(remaining):
        if limit is None:
            return await attempt()
        async with limit:
            return await attempt()


def _out_of_time(what: str, policy: RetryPolicy, number: int, last: LLMUnavailable | None) -> LLMUnavailable:
    cause = f"; previous error: {last}" if last is not None else ""
    budget = f"total timeout of {policy.total_timeout:g}s"
    return LLMUnavailable(f"{what}: {budget} exceeded during attempt {number}{cause}")


def error_detail(response: httpx.Response) -> str:
    """The server's own error message, short: ``error.message`` (OpenAI, Anthropic), ``error`` (Ollama)
    or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail: object = None
    if isinstance(body, dict):
        error = body.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        detail = detail or body.get("message") or body.get("detail")
    text = str(detail) if detail else response.text
    return " ".join(text.split())[:_DETAIL_CHARS] or "(empty body)"


def _hint(status: int) -> str:
    if status in (401, 403):
        return " (check the API key)"
    if status == 404:
        return " (check the base URL and the model name)"
    if 300 <= status < 400:
        return " (check the base URL: redirects are not followed)"
    return ""


def check_status(response: httpx.Response, provider: str) -> None:
    """Raise the error an HTTP status means; return for 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = error_detail(response)
    if status in (408, 429) or status >= 500:
        raise LLMUnavailable(f"HTTP {status}: {detail}", retry_after=retry_after_from(response.headers))
    message = f"{provider} rejected the request: HTTP {status}: {detail}{_hint(status)}"
    raise LLMRejected(message, status=status)


class JSONEndpoint:
    """POSTs JSON to one server with retries and at most ``max_concurrency`` requests in flight.

    Owns an :class:`httpx.AsyncClient` (use it from one event loop; close it with :meth:`aclose`).
    ``timeout`` is httpx's per-request timeout (connect, write, and read: a non-streamed reply arrives in
    one piece, so it bounds the generation); ``retry.total_timeout`` bounds one :meth:`post`, every
    attempt and delay included.
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        retry: RetryPolicy,
        max_concurrency: int,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.provider = provider
        self.retry = retry
        self._limit = asyncio.Semaphore(max_concurrency)
        url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=url, headers=dict(headers), timeout=timeout)

    async def post(
        self, path: str, body: dict[str, Any], *, roles: Sequence[str], provider: str | None = None
    ) -> dict[str, Any]:
        """The decoded JSON object the server answered with. Raises :class:`LLMError`.

        ``provider`` names the caller in logs and errors (default: the endpoint's own ``provider``), for
        callers sharing one endpoint with different models."""
        provider = provider or self.provider
        log.debug("%s: POST %s (messages: %s)", provider, path, ", ".join(roles))
        return await with_retries(
            lambda: self._attempt(path, body, provider), self.retry, what=f"{provider} {path}", limit=self._limit
        )

    async def _attempt(self, path: str, body: dict[str, Any], provider: str) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
        except httpx.TimeoutException as exc:
            raise LLMUnavailable(f"request timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise LLMUnavailable(f"connection failed: {type(exc).__name__}: {exc}") from exc
        check_status(response, provider)
        start = response.text[:_DETAIL_CHARS]
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMError(f"{provider}: response is not JSON: {start!r}") from exc
        if not isinstance(data, dict):
            raise LLMError(f"{provider}: response is not a JSON object: {start!r}")
        return data

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class EndpointModel:
    """What the HTTP providers share: one model on a :class:`JSONEndpoint` they own, and cheap views of that
    endpoint (same connections, same concurrency limit) asking for another model."""

    def __init__(self, endpoint: JSONEndpoint, model: str) -> None:
        self._endpoint = endpoint
        self._model = model
        self._owns_endpoint = True

    def with_model(self, model: str) -> Self:
        """The same server asking for ``model``. Closing the result does nothing: close the original."""
        view = copy.copy(self)
        view._model = model
        view._owns_endpoint = False
        return view

    async def aclose(self) -> None:
        if self._owns_endpoint:
            await self._endpoint.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def token_count(usage: object, key: str) -> int:
    """``usage[key]`` as a non-negative int, 0 when absent or not a number."""
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and value >= 0 else 0
