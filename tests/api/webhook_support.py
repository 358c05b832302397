"""What the webhook tests share: a receiver on loopback that keeps every request (headers and raw body), answers
the statuses it is scripted with (then 200) and can hold requests until told to answer; and API helpers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    #: Statuses to answer, in order; once spent, 200.
    script: list[int] = field(default_factory=list)
    #: While set, a request waits (unanswered) until it is cleared.
    holding: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self._lock:
            return self.script.pop(0) if self.script else 200

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """The requests received, once there are at least ``count``."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.received)} of {count} webhook requests arrived in {timeout} s")
            time.sleep(0.02)
        return list(self.received)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Receiver]:
        receiver: Receiver

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.received.append(Received(dict(self.headers.items()), self.rfile.read(length)))
                while receiver.holding.is_set():
                    time.sleep(0.01)
                self.send_response(receiver.next_status())
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        receiver = cls(f"http://127.0.0.1:{httpd.server_address[1]}/hook")
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            receiver.holding.clear()
            httpd.shutdown()
            httpd.server_close()


def project_id(api: httpx.Client) -> str:
    return str(api.get("/v1/ping/").json()["project_id"])


def create(api: httpx.Client, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "name": f"hook-{uuid.uuid4().hex[:6]}"}
    if event_types is not None:
        body["event_types"] = event_types
    response = api.post(f"/api/v1/webhooks/projects/{project_id(api)}/", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def settled(api: httpx.Client, webhook_id: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The webhook's deliveries, oldest first, once there are ``count`` and none is PENDING."""
    deadline = time.monotonic() + timeout
    while True:
        log = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries/").json()
        results: list[dict[str, Any]] = log["results"][::-1]
        if log["count"] == count and all(d["status"] != "PENDING" for d in results):
            return results
        if time.monotonic() > deadline:
            raise TimeoutError(f"deliveries did not settle: {log}")
        time.sleep(0.05)


def add(api: httpx.Client, user: str, text: str) -> str:
    response = api.post("/v3/memories/add/", json={"messages": text, "user_id": user, "infer": False})
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["id"])
