"""The answer to an exception no handler took: a complete JSON 500, and the connection kept.

Starlette answers an unhandled exception with its error handler and then raises it again, and uvicorn closes
the connection of an application that raised after starting its response: the client's keep-alive connection
is reset, so its next request fails too. This pure ASGI middleware sits inside the request observation (so the
500 carries the request id and is counted) and around everything else: it logs the exception with the request
(:func:`mnemo.http.errors.log_unexpected`), answers a JSON 500 and returns normally. Only a response already
started when the exception came cannot be completed; that one is left to the server to cut.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mnemo.http.errors import INTERNAL_ERROR, error_response, log_unexpected


class LastResort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log_unexpected(scope)
            if started:
                raise
            await error_response(500, INTERNAL_ERROR)(scope, receive, send)
