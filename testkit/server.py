"""Running real ``mnemo`` processes for tests and benchmarks."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class MnemoServer:
    url: str
    api_key: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Token {key or self.api_key}"}

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(key), timeout=60)


def mnemo_env(*, model_dir: Path | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MNEMO_")}
    env["MNEMO_LOG_LEVEL"] = "INFO"
    env["MNEMO_JOB_POLL_SECONDS"] = "0.5"
    if model_dir is not None:
        env["MNEMO_MODEL_DIR"] = str(model_dir)
    env.update(extra or {})
    return env


def run_cli(args: list[str], *, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mnemo", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def start_server(
    data_dir: Path,
    *,
    database_url: str | None = None,
    model_dir: Path | None = None,
    api_key: str | None = None,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    wait: bool = True,
) -> MnemoServer:
    """Start ``mnemo serve`` in a subprocess and wait until /healthz answers 200.

    ``api_key=""`` starts it without MNEMO_API_KEY (the server then makes its own first key).
    """
    key = f"m0-test-{secrets.token_hex(8)}" if api_key is None else api_key
    port = port or free_port()
    env = mnemo_env(model_dir=model_dir, extra={"MNEMO_API_KEY": key} if key else {})
    env.update(extra_env or {})
    args = [sys.executable, "-m", "mnemo", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if database_url:
        args += ["--database-url", database_url]
    args += extra_args or []
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"serve-{port}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = MnemoServer(f"http://127.0.0.1:{port}", key, process, data_dir, log_path, env)
    if wait:
        wait_healthy(server)
    return server


@contextmanager
def serving(data_dir: Path, **options: Any) -> Iterator[MnemoServer]:
    """:func:`start_server` for the length of a block (e.g. a module fixture with its own settings)."""
    running = start_server(data_dir, **options)
    try:
        yield running
    finally:
        running.stop()


def wait_healthy(server: MnemoServer, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"mnemo serve exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"mnemo serve did not become healthy:\n{server.log()}")


def wait_event(server: MnemoServer, event_id: str, *, key: str | None = None, timeout: float = 60) -> dict[str, Any]:
    """Poll an event until it is SUCCEEDED or FAILED."""
    deadline = time.monotonic() + timeout
    with server.client(key) as client:
        while time.monotonic() < deadline:
            response = client.get(f"/v1/event/{event_id}/")
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            if body["status"] in ("SUCCEEDED", "FAILED"):
                return body
            time.sleep(0.05)
    raise TimeoutError(f"event {event_id} did not finish in {timeout}s")


def wait_final_vectors(server: MnemoServer, *, timeout: float = 60) -> None:
    """Wait until ``server``'s workers have computed every queued final vector (``MNEMO_EMBEDDING_CONTEXT=deferred``),
    as its ``mnemo_pending_final_vectors`` gauge says. Polls slowly: the workers start once the process has had no
    request for a moment, and a scrape is one."""
    deadline = time.monotonic() + timeout
    while True:
        page = httpx.get(f"{server.url}/metrics", timeout=10)
        page.raise_for_status()
        pending = re.search(r"^mnemo_pending_final_vectors (\S+)$", page.text, re.MULTILINE)
        if pending is None:
            raise AssertionError("/metrics has no mnemo_pending_final_vectors")
        if not float(pending.group(1)):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending.group(1)} final vectors still queued after {timeout:g} s")
        time.sleep(0.5)


def start_worker(
    database_url: str, log_path: Path, *, model_dir: Path | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``mnemo worker`` on ``database_url`` in a subprocess, its output in ``log_path`` (stop it with
    ``send_signal``/``kill``)."""
    env = mnemo_env(model_dir=model_dir, extra=extra_env)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mnemo", "worker", "--database-url", database_url],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
