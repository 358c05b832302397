"""Long-running processes: ``mnemo serve`` (API + workers) and ``mnemo worker``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

import uvicorn

from mnemo.http.app import create_app
from mnemo.runtime import build_worker, database_url, open_database, open_services
from mnemo.settings import Settings
from mnemo.storage import AccountStore, Database
from mnemo.worker.health_app import health_app

logger = logging.getLogger("mnemo")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def bootstrap_keys(accounts: AccountStore, settings: Settings) -> tuple[str, str | None]:
    """Make sure the default project exists and someone can authenticate to it: the project, and the first key
    when this call made it (to be shown once)."""
    project = await accounts.ensure_project()
    if settings.api_key is not None:
        await accounts.store_key(project, settings.api_key.get_secret_value(), name="MNEMO_API_KEY")
        return project, None
    if await accounts.count_keys() == 0:
        return project, await accounts.create_key(project, name="first key")
    return project, None


async def serve(settings: Settings) -> int:
    async with database_url(settings) as url, open_database(settings, url, serving=True) as db:
        project, first_key = await bootstrap_keys(AccountStore(db), settings)
        async with open_services(settings, db) as services:
            stop = asyncio.Event()
            workers = None
            if settings.run_workers:
                workers = asyncio.create_task(build_worker(services).run(stop), name="mnemo-workers")
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(services),
                    host=settings.host,
                    port=settings.port,
                    lifespan="off",
                    # mnemo writes its own access log (mnemo.http.observe); uvicorn's loggers go to mnemo's
                    # handler (text or JSON), not to a configuration of their own.
                    access_log=False,
                    log_config=None,
                    log_level="warning",
                    timeout_graceful_shutdown=30,
                    # Longer than the idle timeout of common clients' pools, so a reused connection is
                    # not closed under them (a reset that the client reports as a failed request).
                    timeout_keep_alive=75,
                )
            )
            side = _side_server(services.db, settings, settings.metrics_port) if settings.metrics else None
            side_task = asyncio.create_task(side.serve(), name="mnemo-metrics") if side is not None else None
            announce = asyncio.create_task(_announce(server, settings, project, first_key))
            # uvicorn re-raises the signal it handled once it has stopped; keep that from killing cleanup.
            for sig in _SIGNALS:
                signal.signal(sig, lambda *_: None)
            settle_heap()
            await server.serve()
            announce.cancel()
            if side is not None and side_task is not None:
                side.should_exit = True
                await side_task
            logger.info("HTTP server stopped; draining workers")
            stop.set()
            if workers is not None:
                await workers
    logger.info("mnemo stopped")
    return 0


def settle_heap() -> None:
    """Hide what the process's start loaded (modules, the embedding model's vocabulary, the rules of the offline
    extractor) from the garbage collector, once it is loaded and before the first request.

    The collector's full passes scanned all of it: on a server about to answer its first requests, one pass took
    ~140 ms in the middle of the requests it happened to interrupt (``bench/README.md``). Frozen objects are never
    scanned again, and ``/metrics`` reports how many there are (``mnemo_gc_frozen_objects``).
    """
    gc.collect()
    gc.freeze()


async def _announce(server: uvicorn.Server, settings: Settings, project: str, first_key: str | None) -> None:
    """Once the server accepts connections: its URL and, the first time, the key, set apart on stdout."""
    while not server.started:
        await asyncio.sleep(0.05)
    lines = ["", f"mnemo is listening on http://{settings.host}:{settings.port}"]
    if first_key is not None:
        lines += [f"Created the first API key for project {project} (shown once, store it now):", first_key]
    print("\n".join([*lines, ""]), flush=True)


def _side_server(db: Database, settings: Settings, port: int | None) -> uvicorn.Server | None:
    """``/healthz``, ``/readyz`` and ``/metrics`` on a port of their own (a worker's health port, serve's
    ``MNEMO_METRICS_PORT``); None without a port."""
    if port is None:
        return None
    config = uvicorn.Config(
        health_app(db, settings),
        host=settings.host,
        port=port,
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level="warning",
    )
    return uvicorn.Server(config)


async def run_workers_only(settings: Settings) -> int:
    async with (
        database_url(settings) as url,
        open_database(settings, url) as db,
        open_services(settings, db) as services,
    ):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        health = _side_server(db, settings, settings.worker_health_port)
        if health is not None:
            # While it serves, uvicorn takes SIGINT/SIGTERM, stops, then raises the signal again for the handlers
            # above: a signal stops both.
            serving = asyncio.create_task(health.serve(), name="mnemo-worker-health")
        settle_heap()
        logger.info("mnemo worker running")
        try:
            await build_worker(services, dedicated=True).run(stop)
        finally:
            if health is not None:
                health.should_exit = True
                await serving
            for sig in _SIGNALS:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
    return 0
