"""``mnemo serve`` as a process: embedded database, first key, data-dir lock, shutdown, crash recovery."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

from testkit.server import free_port, start_server, wait_event


def _postmaster_pid(data_dir: Path) -> int | None:
    pidfile = data_dir / "pgdata" / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().splitlines()[0])


def _gone_within(pid: int, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_embedded_default_first_key_lock_and_clean_stop(tmp_path: Path, model_dir: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir, model_dir=model_dir, api_key="")
    try:
        deadline = time.monotonic() + 10  # the key is announced with the URL, once the server listens
        while "Created the first API key" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()
        assert "Created the first API key" in log
        assert "mnemo is listening on" in log
        key = log.split("Created the first API key", 1)[1].splitlines()[1].strip()
        assert httpx.get(f"{server.url}/v1/ping/", headers=server.headers(key)).status_code == 200
        pg_pid = _postmaster_pid(data_dir)
        assert pg_pid is not None and psutil.pid_exists(pg_pid)

        second = start_server(data_dir, model_dir=model_dir, api_key="", port=free_port(), wait=False)
        assert second.process.wait(60) != 0
        assert "already using the data directory" in second.log()
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert "mnemo stopped" in server.log()
    # pg_ctl returns once the pid file is gone; the postmaster process itself exits a moment later.
    assert _gone_within(pg_pid, seconds=10)

    restarted = start_server(data_dir, model_dir=model_dir, api_key="")
    try:
        assert restarted.log().count("Created the first API key") == 0
        assert httpx.get(f"{restarted.url}/v1/ping/", headers=restarted.headers(key)).status_code == 200
    finally:
        restarted.stop()


def test_accepted_adds_survive_sigkill_of_service_and_database(tmp_path: Path, model_dir: Path) -> None:
    """Clients keep adding while serve and its database are SIGKILLed: every answered add completes."""
    data_dir = tmp_path / "data"
    server = start_server(data_dir, model_dir=model_dir)
    user = f"crash-{uuid.uuid4().hex[:6]}"
    accepted: list[str] = []
    stop = threading.Event()

    def keep_adding(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {"messages": f"I planted {worker * 100_000 + i} tulips in the garden.", "user_id": user}
                try:
                    response = client.post("/v3/memories/add/", json=body)
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    accepted.append(response.json()["event_id"])

    threads = [threading.Thread(target=keep_adding, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    pg_pid = _postmaster_pid(data_dir)
    assert pg_pid is not None
    server.kill()
    os.kill(pg_pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(accepted) > 20

    restarted = start_server(data_dir, model_dir=model_dir, api_key=server.api_key)
    try:
        finished = [wait_event(restarted, event_id, timeout=120) for event_id in accepted]
        assert {e["status"] for e in finished} == {"SUCCEEDED"}
        with restarted.client() as client:
            listed = client.post("/v3/memories/", json={"filters": {"user_id": user}, "page_size": 1000}).json()
        written = [r["id"] for e in finished for r in e["results"]]
        assert len(written) == len(set(written)) >= len(accepted)
        assert listed["count"] == len({m["memory"] for m in listed["results"]})
        assert set(written) <= {m["id"] for m in listed["results"]}
    finally:
        restarted.stop()


def test_fastapi_telemetry_stays_off_whatever_the_environment(tmp_path: Path, model_dir: Path) -> None:
    """FastAPI's own OpenTelemetry export, which its environment variables switch on, never starts: mnemo sends
    nothing anywhere (its metrics are its own /metrics page), and such variables meant for other programs do not
    stop it from starting either."""
    collector = socket.socket()
    collector.bind(("127.0.0.1", 0))
    collector.listen()
    collector.setblocking(False)
    endpoint = f"http://127.0.0.1:{collector.getsockname()[1]}"
    otel = {
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_METRIC_EXPORT_INTERVAL": "100",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    server = start_server(tmp_path / "data", model_dir=model_dir, extra_env=otel)
    try:
        for _ in range(3):
            assert httpx.get(f"{server.url}/v1/ping/", headers=server.headers()).status_code == 200
        time.sleep(0.5)  # longer than the export intervals asked for above
        try:
            connection, _ = collector.accept()
        except BlockingIOError:
            connection = None
        assert connection is None, "something connected to the OpenTelemetry collector's address"
    finally:
        server.stop()
        collector.close()
