"""What one process is working on now: HTTP requests and worker jobs in progress.

The embedding batcher asks it whether a request is alone (:meth:`Activity.alone`): a text to store is then
embedded on the event loop, which has nothing else to do, instead of being handed to the embedder's thread and
back (``bench/README.md``, second session of 2026-12-07: 0.2 ms off a verbatim add's median through the official
client). With other work in progress the hand-off stays: the loop's time belongs to the others. Gated on an idle
embedder alone, blocking the loop for a model run cost 10-30% of the throughput of 4 to 16 clients adding at once.

Work that nobody waits for (final vectors, mnemo.worker.final_vectors) waits until the process is idle
(:meth:`Activity.quiet`) and has been for a while (:meth:`Activity.idle_for`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Activity:
    __slots__ = ("_idle", "_last_ended", "_working")

    def __init__(self) -> None:
        self._working = 0
        self._last_ended = time.monotonic()
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def working(self) -> Iterator[None]:
        """Counts a request or a job while it runs."""
        self._working += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._working -= 1
            self._last_ended = time.monotonic()
            if not self._working:
                self._idle.set()

    def alone(self) -> bool:
        """At most one request or job is in progress (the caller's own)."""
        return self._working <= 1

    def idle_for(self) -> float:
        """Seconds since the last request or job ended, with none in progress; 0.0 while one is."""
        return 0.0 if self._working else time.monotonic() - self._last_ended

    async def quiet(self) -> None:
        """Returns once no request or job is in progress."""
        await self._idle.wait()
