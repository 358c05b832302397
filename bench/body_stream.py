"""Streamed bodies: the server's memory while a client streams 500 MiB at it, and how soon it is answered.

A raw socket posts to ``POST /v3/memories/add/`` with ``Transfer-Encoding: chunked`` (no ``Content-Length``)
and a sender thread writes 1 MiB chunks until 500 MiB are sent or the server closes the connection, while the
main thread waits for the answer and a sampler reads the ``mnemo serve`` process's RSS every 20 ms. Three
clients, each on a fresh connection to one server (``--no-workers``):

- ``no key``: no ``Authorization`` header (the gate answers 401 on the headers alone);
- ``bad key``: an unknown key (401 after one key lookup);
- ``valid key``: the server's key (the body is read up to ``MNEMO_MAX_BODY_BYTES`` and refused with 413).

For each: the status, the time from the request's head being sent to the answer's first byte, how many body
bytes the client got onto the wire before the server closed the connection (and how long it kept sending),
and the server's RSS before, at its highest during, and after the stream.

    python -m bench.body_stream [--mib 500]
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

from bench.common import machine, running_server
from testkit.server import MnemoServer

CHUNK = 1024 * 1024
MIB = 1024 * 1024


@dataclass
class Stream:
    """One client's stream and what the server did with it."""

    sent: int = 0
    stream_seconds: float = 0.0
    status: int | None = None
    first_byte_ms: float | None = None
    closed_by_server: bool = False
    rss: list[int] = field(default_factory=list)


def _sampler(process: psutil.Process, stream: Stream, stop: threading.Event) -> None:
    while not stop.is_set():
        stream.rss.append(process.memory_info().rss)
        stop.wait(0.02)


def _sender(sock: socket.socket, total: int, stream: Stream) -> None:
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
    try:
        while stream.sent < total:
            sock.sendall(chunk)
            stream.sent += CHUNK
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        stream.closed_by_server = True


def _read_status(sock: socket.socket) -> int:
    received = b""
    while b"\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed without an answer")
        received += data
    return int(received.split(b"\r\n", 1)[0].split()[1])


def stream_once(server: MnemoServer, authorization: str | None, total: int) -> Stream:
    url = httpx.URL(server.url)
    assert url.port is not None
    process = psutil.Process(server.process.pid)
    stream = Stream()
    stop = threading.Event()
    sampler = threading.Thread(target=_sampler, args=(process, stream, stop), daemon=True)
    sampler.start()
    time.sleep(0.2)
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    head = (
        f"POST /v3/memories/add/ HTTP/1.1\r\nHost: {url.netloc.decode()}\r\n{auth}"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    with socket.create_connection((url.host, url.port), timeout=120) as sock:
        started = time.perf_counter()
        sock.sendall(head)
        sender = threading.Thread(target=_sender, args=(sock, total, stream), daemon=True)
        sender.start()
        try:
            stream.status = _read_status(sock)
            stream.first_byte_ms = (time.perf_counter() - started) * 1000
        except (OSError, ConnectionError):
            pass
        sender.join(300)
        stream.stream_seconds = time.perf_counter() - started
    time.sleep(0.5)
    stop.set()
    sampler.join()
    return stream


def summary(stream: Stream) -> dict[str, Any]:
    before, after = stream.rss[0], stream.rss[-1]
    return {
        "status": stream.status,
        "answered_after_ms": round(stream.first_byte_ms, 1) if stream.first_byte_ms is not None else None,
        "body_sent_mib": round(stream.sent / MIB, 1),
        "closed_by_server": stream.closed_by_server,
        "stream_seconds": round(stream.stream_seconds, 2),
        "rss_before_mib": round(before / MIB, 1),
        "rss_peak_mib": round(max(stream.rss) / MIB, 1),
        "rss_after_mib": round(after / MIB, 1),
        "rss_growth_mib": round((max(stream.rss) - before) / MIB, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=500, help="body size the client tries to send (MiB)")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "body_mib": args.mib}
    with running_server(workers=False) as server:
        clients = {"no key": None, "bad key": "Token m0-not-a-key", "valid key": f"Token {server.api_key}"}
        for name, authorization in clients.items():
            results[name] = summary(stream_once(server, authorization, args.mib * MIB))
            print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
