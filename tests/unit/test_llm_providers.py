"""The LLM providers against a scripted server on 127.0.0.1: wire formats, retries, timeouts, limits."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from typing import Any

import pytest

from mnemo.providers.llm import (
    AnthropicLLM,
    ChatMessage,
    LLMError,
    LLMRejected,
    LLMReply,
    LLMUnavailable,
    OpenAICompatLLM,
    RetryPolicy,
)
from mnemo.providers.llm.base import parse_retry_after
from testkit.scripted_llm import Reply, ScriptedLLM, anthropic_reply, error_reply, openai_reply

FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, total_timeout=5.0)
MESSAGES = [ChatMessage("user", "hello")]
SCHEMA: dict[str, Any] = {"title": "extracted facts", "type": "object"}

Provider = OpenAICompatLLM | AnthropicLLM


@dataclass(frozen=True)
class Wire:
    """One wire format: how to build its provider against the server, and a good reply in it."""

    name: str
    make: Callable[..., Provider]
    ok: Callable[..., Reply]

    def build(self, server: ScriptedLLM, **kwargs: Any) -> Provider:
        kwargs.setdefault("retry", FAST)
        return self.make(server, **kwargs)


def _openai(server: ScriptedLLM, **kwargs: Any) -> Provider:
    kwargs.setdefault("api_key", "sk-test")
    return OpenAICompatLLM(base_url=server.openai_url, model="test-model", **kwargs)


def _anthropic(server: ScriptedLLM, **kwargs: Any) -> Provider:
    kwargs.setdefault("api_key", "ak-test")
    return AnthropicLLM(base_url=server.url, model="claude-test", **kwargs)


OPENAI = Wire("openai", _openai, openai_reply)
ANTHROPIC = Wire("anthropic", _anthropic, anthropic_reply)
WIRES = pytest.mark.parametrize("wire", [OPENAI, ANTHROPIC], ids=lambda w: w.name)


@pytest.fixture
def server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as running:
        yield running


def complete(
    make: Callable[[], Provider],
    *,
    count: int = 1,
    schema: dict[str, Any] | None = None,
) -> list[LLMReply]:
    """Build the provider inside a fresh event loop, run ``count`` concurrent calls, close it."""

    async def run() -> list[LLMReply]:
        llm = make()
        try:
            calls = [llm.complete(system="hi", messages=MESSAGES, json_schema=schema) for _ in range(count)]
            return list(await asyncio.gather(*calls))
        finally:
            await llm.aclose()

    return asyncio.run(run())


def complete_one(make: Callable[[], Provider], schema: dict[str, Any] | None = None) -> LLMReply:
    return complete(make, schema=schema)[0]


# Wire formats


def test_openai_request_and_reply(server: ScriptedLLM) -> None:
    server.script(openai_reply('{"a": 1}', prompt_tokens=120, completion_tokens=30))
    reply = complete_one(lambda: OPENAI.build(server), SCHEMA)
    assert reply.text == '{"a": 1}'
    assert (reply.prompt_tokens, reply.completion_tokens) == (120, 30)
    assert reply.latency_ms > 0 and reply.finish_reason == "stop" and not reply.truncated
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "test-model"
    assert request.body["messages"] == [
        {"role": "system", "content": "hi"},
        {"role": "user", "content": "hello"},
    ]
    assert request.body["temperature"] == 0.0
    assert request.body["response_format"] == {"type": "json_object"}


def test_openai_structured_output_sends_the_schema(server: ScriptedLLM) -> None:
    server.script(openai_reply("{}"))
    complete_one(lambda: OPENAI.build(server, structured_output=True), SCHEMA)
    assert server.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "extracted_facts", "schema": SCHEMA, "strict": True},
    }


def test_openai_can_send_no_response_format(server: ScriptedLLM) -> None:
    server.script(openai_reply("{}"), openai_reply("plain"))
    complete_one(lambda: OPENAI.build(server, json_mode=False, api_key=None, temperature=None), SCHEMA)
    complete_one(lambda: OPENAI.build(server), None)  # no schema asked: no JSON mode either
    first, second = server.requests
    assert "response_format" not in first.body and "temperature" not in first.body
    assert "authorization" not in first.headers
    assert "response_format" not in second.body


def test_openai_without_usage_counts_zero_tokens(server: ScriptedLLM) -> None:
    server.script(Reply(200, {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}))
    reply = complete_one(lambda: OPENAI.build(server))
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens) == ("hi", 0, 0)


def test_anthropic_request_and_reply(server: ScriptedLLM) -> None:
    body = {
        "content": [{"type": "text", "text": '{"a": '}, {"type": "text", "text": "1}"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 50, "cache_read_input_tokens": 10, "output_tokens": 9},
    }
    server.script(Reply(200, body))
    reply = complete_one(lambda: ANTHROPIC.build(server, max_tokens=321), SCHEMA)
    assert reply.text == '{"a": 1}'
    assert (reply.prompt_tokens, reply.completion_tokens) == (60, 9)
    assert reply.truncated
    (request,) = server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "ak-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.body["system"] == "hi"
    assert request.body["messages"] == [{"role": "user", "content": "hello"}]
    assert request.body["max_tokens"] == 321
    assert request.body["model"] == "claude-test"


def test_unusable_replies_are_llm_errors_and_not_retried(server: ScriptedLLM) -> None:
    server.script(
        Reply(200, "<html>not json</html>"),
        Reply(200, {"choices": [{"message": {"role": "assistant", "content": None, "refusal": "No."}}]}),
        Reply(200, {"choices": []}),
        Reply(200, {"content": [{"type": "tool_use", "id": "x", "name": "y", "input": {}}]}),
    )
    for wire, expected in [
        (OPENAI, "not JSON"),
        (OPENAI, "refused"),
        (OPENAI, "no choices"),
        (ANTHROPIC, "no text block"),
    ]:
        with pytest.raises(LLMError, match=expected) as caught:
            complete_one(partial(wire.build, server))
        assert type(caught.value) is LLMError
    assert len(server.requests) == 4


# Retries


@WIRES
def test_server_errors_are_retried_until_success(server: ScriptedLLM, wire: Wire) -> None:
    server.script(error_reply(500, "boom"), error_reply(503, "busy"), wire.ok("fine"))
    assert complete_one(lambda: wire.build(server)).text == "fine"
    assert len(server.requests) == 3


@WIRES
def test_server_errors_exhaust_the_attempts(server: ScriptedLLM, wire: Wire) -> None:
    server.script(*[error_reply(502, "bad gateway")] * 3)
    with pytest.raises(LLMUnavailable, match=r"after 3 attempt\(s\).*502.*bad gateway"):
        complete_one(lambda: wire.build(server))
    assert len(server.requests) == 3


@WIRES
def test_unauthorized_is_rejected_without_retry(server: ScriptedLLM, wire: Wire) -> None:
    server.script(error_reply(401, "invalid api key"), wire.ok("never sent"))
    with pytest.raises(LLMRejected, match=r"HTTP 401: invalid api key.*check the API key") as caught:
        complete_one(lambda: wire.build(server))
    assert caught.value.status == 401
    assert len(server.requests) == 1 and server.pending == 1


def test_rejection_messages_never_contain_the_key(server: ScriptedLLM) -> None:
    server.script(error_reply(404, "model not found"))
    with pytest.raises(LLMRejected, match="check the base URL and the model name") as caught:
        complete_one(lambda: OPENAI.build(server, api_key="sk-secret-123"))
    assert "sk-secret-123" not in str(caught.value)


@WIRES
def test_429_honours_retry_after(server: ScriptedLLM, wire: Wire) -> None:
    server.script(error_reply(429, "slow down", headers={"Retry-After": "1"}), wire.ok("ok"))
    assert complete_one(lambda: wire.build(server)).text == "ok"
    first, second = server.requests
    assert 0.9 <= second.at - first.at < 2.0


def test_retry_after_ms_is_honoured(server: ScriptedLLM) -> None:
    server.script(error_reply(429, "slow down", headers={"retry-after-ms": "300"}), openai_reply("ok"))
    complete_one(lambda: OPENAI.build(server))
    first, second = server.requests
    assert 0.28 <= second.at - first.at < 1.0


def test_retry_after_beyond_the_total_timeout_gives_up_at_once(server: ScriptedLLM) -> None:
    server.script(error_reply(429, "quota", headers={"Retry-After": "30"}), openai_reply("never"))
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, total_timeout=2.0)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match="would exceed the total timeout"):
        complete_one(lambda: OPENAI.build(server, retry=policy))
    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 1


@WIRES
def test_slow_replies_time_out_and_are_retried(server: ScriptedLLM, wire: Wire) -> None:
    server.script(wire.ok("late", delay=3), wire.ok("late", delay=3))
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, total_timeout=5.0)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match=r"after 2 attempt\(s\).*timed out"):
        complete_one(lambda: wire.build(server, timeout=0.2, retry=policy))
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 2


def test_a_timeout_then_success(server: ScriptedLLM) -> None:
    server.script(openai_reply("late", delay=3), openai_reply("quick"))
    reply = complete_one(lambda: OPENAI.build(server, timeout=0.2))
    assert reply.text == "quick"
    assert reply.latency_ms >= 200  # the whole call, retries included


def test_total_timeout_bounds_the_whole_call(server: ScriptedLLM) -> None:
    server.script(*[openai_reply("late", delay=3)] * 3)
    policy = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, total_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(LLMUnavailable, match=r"total timeout of 0\.5s exceeded"):
        complete_one(lambda: OPENAI.build(server, timeout=10.0, retry=policy))
    assert 0.45 <= time.monotonic() - started < 2.5  # each reply takes 3 s: only the total bound ends it sooner


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    make = lambda: OpenAICompatLLM(base_url=f"http://127.0.0.1:{port}/v1", model="m", retry=FAST)  # noqa: E731
    with pytest.raises(LLMUnavailable, match="connection failed"):
        complete_one(make)


# Concurrency


@WIRES
def test_concurrency_is_limited_per_instance(server: ScriptedLLM, wire: Wire) -> None:
    # Here and below: replies slow enough that the calls overlap even on a loaded machine (at 0.15 s, one run saw
    # a call finish before the next began).
    server.script(*[wire.ok(f"r{i}", delay=0.4) for i in range(6)])
    replies = complete(lambda: wire.build(server, max_concurrency=2), count=6)
    assert sorted(r.text for r in replies) == [f"r{i}" for i in range(6)]
    assert server.max_in_flight == 2


@WIRES
def test_a_model_view_shares_the_connection_limit_and_is_not_closed_by_itself(server: ScriptedLLM, wire: Wire) -> None:
    server.script(*[wire.ok(f"r{i}", delay=0.4) for i in range(5)])

    async def run() -> list[str]:
        llm = wire.build(server, max_concurrency=2)
        other = llm.with_model("other-model")
        try:
            calls = [m.complete(system="hi", messages=MESSAGES, json_schema=None) for m in (llm, other, other, llm)]
            texts = [reply.text for reply in await asyncio.gather(*calls)]
            await other.aclose()  # a view: the original keeps working
            texts.append((await llm.complete(system="hi", messages=MESSAGES, json_schema=None)).text)
            return texts
        finally:
            await llm.aclose()

    assert sorted(asyncio.run(run())) == [f"r{i}" for i in range(5)]
    assert server.max_in_flight == 2  # one limit for the profile, whatever the model
    models = [request.body["model"] for request in server.requests]
    own = {"openai": "test-model", "anthropic": "claude-test"}[wire.name]
    assert sorted(models) == sorted([own, own, own, "other-model", "other-model"])


def test_waiting_for_a_slot_counts_against_the_total_timeout(server: ScriptedLLM) -> None:
    server.script(*[openai_reply("slow", delay=0.6)] * 2)
    policy = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.01, total_timeout=0.4)
    with pytest.raises(LLMUnavailable, match="total timeout"):
        complete(lambda: OPENAI.build(server, max_concurrency=1, retry=policy), count=2)
    assert len(server.requests) == 1  # the second call never got a slot


# Retry policy and Retry-After parsing


def test_parse_retry_after() -> None:
    now = datetime(2024, 5, 8, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now=now) == 3.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4", now=now) == 0.0
    for unusable in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(unusable, now=now) is None


def test_backoff_is_full_jitter_under_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=4.0, total_timeout=60.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        delays = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2


def test_retry_policy_validates() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(total_timeout=0)
