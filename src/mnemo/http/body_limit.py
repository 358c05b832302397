"""The cap on request bodies (``MNEMO_MAX_BODY_BYTES``), applied before anything reads a body.

It is ASGI middleware, not a dependency, because FastAPI reads a route's body before any dependency
runs. A declared ``Content-Length`` over the cap is refused at once, without reading the body; a body
sent without one (chunked) is counted as it arrives and refused as soon as it passes the cap, so no
more than the cap (plus one chunk) is ever held. Either way the answer is a 413 with a JSON ``detail`` and
``Connection: close``. It runs after :mod:`mnemo.http.gate`: an unauthenticated body is never read at all.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.http.errors import error_response


class _BodyTooLarge(Exception):
    """Raised into whatever is reading the body; the middleware answers instead of the app."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        guard = _Guard(receive, send, self.max_bytes)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.exceeded:
                raise
            # What the app raised on being cut off (the reader's error, wrapped or not) is answered below.
        if guard.exceeded and not guard.started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"Request body is larger than {self.max_bytes} bytes.")
        # The rest of the body is never read: close the connection rather than read and discard it.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class _Guard:
    """Counts the body's bytes; once past the cap, raises into the reader and drops what the app then answers
    (FastAPI turns a failed read into a 400 of its own). A response already started is left to finish."""

    __slots__ = ("_receive", "_send", "exceeded", "max_bytes", "received", "started")

    def __init__(self, receive: Receive, send: Send, max_bytes: int) -> None:
        self._receive = receive
        self._send = send
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False
        self.started = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.exceeded = True
                raise _BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                return None
            return int(value) if len(value) <= 18 else 10**18  # a longer number is over any cap
    return None
