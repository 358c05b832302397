"""How the worker's loops sleep: until there may be work (a NOTIFY, a task finished), they are stopped, or a
timeout passes. The job loop (:mod:`mnemo.worker.runner`) and the webhook loop (:mod:`mnemo.worker.webhooks`)
share them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

from mnemo.errors import MnemoError

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def sleep_until(stop: asyncio.Event, wakeup: asyncio.Event, timeout: float) -> None:
    """Return when ``stop`` or ``wakeup`` is set, or after ``timeout`` seconds."""
    stopping = asyncio.create_task(stop.wait())
    woken = asyncio.create_task(wakeup.wait())
    try:
        await asyncio.wait({stopping, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        woken.cancel()


async def relay(
    notifications: Callable[[], AsyncIterator[None]], wakeup: asyncio.Event, stop: asyncio.Event, retry_seconds: float
) -> None:
    """Set ``wakeup`` on every notification until ``stop``; a lost listening connection is opened again after
    ``retry_seconds`` (the loop polls meanwhile)."""
    while not stop.is_set():
        try:
            async for _ in notifications():
                wakeup.set()
        except MnemoError:
            logger.warning("lost the notification connection; polling until it is back")
            await asyncio.sleep(retry_seconds)


class InFlight(Generic[T]):
    """The tasks a loop runs now, each with the item it works on (a job, a delivery); each one that ends sets
    ``wakeup``, so the loop claims more."""

    def __init__(self, wakeup: asyncio.Event) -> None:
        self._tasks: dict[asyncio.Task[None], T] = {}
        self._wakeup = wakeup

    def __len__(self) -> int:
        return len(self._tasks)

    def items(self) -> list[T]:
        return list(self._tasks.values())

    def start(self, work: Coroutine[Any, Any, None], item: T, *, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks[task] = item
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._wakeup.set()

    async def any_ends(self) -> None:
        """Return once one of the tasks has ended (at once when none runs)."""
        if self._tasks:
            await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)

    async def cancel_after(self, timeout: float) -> list[T]:
        """Let the tasks run for up to ``timeout`` seconds, then cancel those still running; their items."""
        if not self._tasks:
            return []
        _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        unfinished = [self._tasks[task] for task in pending]
        for task in pending:
            task.cancel()
        return unfinished
