"""A scripted LLM server for tests: OpenAI-compatible and Anthropic-compatible, on a real 127.0.0.1 socket.

Each test queues the replies it wants (status, headers, body, delay, and a gate that holds replies until
concurrent requests have all arrived); the server answers requests with them in order and records what it
received, so tests can assert on prompts, headers and timing.

    with ScriptedLLM() as server:
        server.script(error_reply(500, "boom"), openai_reply('{"facts": []}'))
        llm = OpenAICompatLLM(base_url=server.openai_url, model="m")
        ...
        assert server.requests[1].body["model"] == "m"
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. ``body``: a dict or list is sent as JSON, a str as it is, None as nothing."""

    status: int = 200
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: seconds to wait before answering (the client may give up first)
    delay: float = 0.0
    #: a barrier shared by replies that are sent only once all their requests have arrived (when the barrier
    #: times out, or the server closes, the reply goes out anyway)
    gate: threading.Barrier | None = None


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it. Header names are lower-case; ``body`` is decoded JSON or None."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    #: time.monotonic() when the request arrived
    at: float


def openai_reply(
    content: str | None,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    delay: float = 0.0,
    gate: threading.Barrier | None = None,
) -> Reply:
    """A chat completion whose first choice says ``content``."""
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return Reply(200, body, delay=delay, gate=gate)


def anthropic_reply(
    text: str,
    *,
    input_tokens: int = 11,
    output_tokens: int = 7,
    stop_reason: str = "end_turn",
    delay: float = 0.0,
) -> Reply:
    """A Messages API response with one text block."""
    body = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": "scripted",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Reply(200, body, delay=delay)


def error_reply(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    """An error in the shape both OpenAI and Anthropic use (``{"error": {"message": ...}}``)."""
    body = {"type": "error", "error": {"type": "scripted_error", "message": message}}
    return Reply(status, body, headers=dict(headers or {}), delay=delay)


class ScriptedLLM:
    """A threaded HTTP server on 127.0.0.1 (a free port) answering POSTs from a queue of :class:`Reply`.

    Serves ``.../chat/completions`` (OpenAI-compatible; use :attr:`openai_url` as the base URL) and
    ``/v1/messages`` (Anthropic; use :attr:`url`). Other paths get 404; a request with no reply queued gets
    418, which clients treat as a non-retryable rejection, so a test that under-scripts fails fast.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._replies: deque[Reply] = deque()
        self._requests: list[Received] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._serve, name="scripted-llm", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.02)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def openai_env(self, model: str | None = None, *, api_key: str | None = None, **more: str) -> dict[str, str]:
        """``MNEMO_*`` variables making this server a deployment's default (OpenAI-compatible) LLM.

        ``model`` and ``api_key`` are set only when given; ``more`` adds other variables as they are, e.g.
        ``MNEMO_JOB_MAX_ATTEMPTS="1"``.
        """
        env = {"MNEMO_LLM_PROVIDER": "openai", "MNEMO_LLM_BASE_URL": self.openai_url}
        if model is not None:
            env["MNEMO_LLM_MODEL"] = model
        if api_key is not None:
            env["MNEMO_LLM_API_KEY"] = api_key
        return env | more

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        with self._lock:
            self._replies.extend(replies)

    def clear(self) -> None:
        """Drop replies still queued (an earlier scenario's leftovers)."""
        with self._lock:
            self._replies.clear()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Replies queued but not used yet."""
        with self._lock:
            return len(self._replies)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was handling at the same time."""
        with self._lock:
            return self._max_in_flight

    def close(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Called from handler threads.

    def _begin(self, received: Received) -> Reply | None:
        with self._lock:
            self._requests.append(received)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return self._replies.popleft() if self._replies else None

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _pass(self, gate: threading.Barrier | None) -> bool:
        """Wait at ``gate`` for the other requests it holds; False when the server is closing meanwhile."""
        if gate is not None:
            try:
                gate.wait()
            except threading.BrokenBarrierError:
                pass
        return not self._stopping.is_set()

    def _wait(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; False when the server is closing meanwhile."""
        return not self._stopping.wait(delay) if delay > 0 else True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], owner: ScriptedLLM) -> None:
        super().__init__(address, handler)
        self.owner = owner

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up on slow replies on purpose; nothing to report."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        received = Received(
            method="POST",
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=_decode(raw),
            at=time.monotonic(),
        )
        reply = owner._begin(received)
        try:
            answer = self._answer(owner, reply)
        finally:
            # Before a byte goes out: the client may send its next request as soon as it has this answer, and
            # that request must not find this one still counted in flight.
            owner._end()
        if answer is None:
            return
        try:
            self._send(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) before the reply

    def _answer(self, owner: ScriptedLLM, reply: Reply | None) -> Reply | None:
        """The reply to send, after its gate and delay; None when the server closes meanwhile."""
        if not (self.path.endswith("/chat/completions") or self.path == "/v1/messages"):
            return Reply(404, {"error": {"message": f"no route {self.path}"}})
        if reply is None:
            return Reply(418, {"error": {"message": "scripted server: no reply queued"}})
        if owner._pass(reply.gate) and owner._wait(reply.delay):
            return reply
        return None

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.body, dict | list):
            payload = json.dumps(reply.body).encode()
            content_type = "application/json"
        else:
            payload = str(reply.body or "").encode()
            content_type = "text/plain; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on :attr:`ScriptedLLM.requests` instead."""


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")
