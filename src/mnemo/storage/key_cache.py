"""API keys remembered between requests, and forgotten as soon as access changes anywhere.

Looking a key up is a round trip and three joined tables on every request. :class:`KeyCache` keeps the
principals of the keys it has seen, but only while it follows the database's ``mnemo_access`` channel: triggers
on ``api_keys``, ``project_members`` and ``projects`` (migration 0013) notify it of every change to them,
whichever process or tool makes it (``mnemo keys revoke``, a member removed through the API, SQL by hand), and
each notification empties the cache. A change this process commits empties it at once, without waiting for the
notification (:meth:`~mnemo.storage.database.Database.watch_access`). While the listening connection is down
nothing is remembered and every request is looked up. A key revoked elsewhere is refused within the
notification's delivery time (milliseconds), not after a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from mnemo.domain.recent import Recent
from mnemo.errors import MnemoError

if TYPE_CHECKING:
    from mnemo.storage.accounts import Principal

logger = logging.getLogger(__name__)

#: The channel the access triggers notify (migration 0013).
ACCESS_CHANNEL = "mnemo_access"


class KeyCache:
    """``lookup`` (the database's answer for a key), remembered per key while ``changes`` is followed."""

    def __init__(
        self,
        lookup: Callable[[str], Awaitable[Principal | None]],
        changes: Callable[[Callable[[], None]], AsyncIterator[None]],
        *,
        max_age_seconds: float = 10.0,
        capacity: int = 10_000,
        retry_seconds: float = 1.0,
    ) -> None:
        self._lookup = lookup
        self._changes = changes
        self.retry_seconds = retry_seconds
        self._known: Recent[bytes, Principal] = Recent(ttl=max_age_seconds, capacity=capacity)
        #: True while the channel is listened to: only then is a key remembered.
        self._following = False
        #: Bumped whenever what is remembered is forgotten: a lookup that began before must not be remembered.
        self._generation = 0
        self._follower: asyncio.Task[None] | None = None

    async def authenticate(self, key: str) -> Principal | None:
        if self._follower is None:
            # A context of its own: the request that happens to start it must not lend it its log context.
            self._follower = asyncio.create_task(self._follow(), name="mnemo-key-cache", context=contextvars.Context())
        digest = hashlib.sha256(key.encode("utf-8")).digest()  # remembered by digest: no key is kept in memory
        known = self._known.get(digest)
        if known is not None:
            return known
        generation = self._generation
        principal = await self._lookup(key)
        # Only keys that authenticate are remembered: unknown ones cannot fill the cache.
        if principal is not None and self._following and generation == self._generation:
            self._known.put(digest, principal)
        return principal

    async def aclose(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        self._forget(following=False)

    async def _follow(self) -> None:
        pause = self.retry_seconds
        while True:
            try:
                async for _ in self._changes(self._listening):
                    self._forget(following=True)
            except MnemoError as exc:
                # A replica (no LISTEN during recovery) fails at every try: one warning per outage, then slower tries.
                level = logging.WARNING if pause == self.retry_seconds else logging.DEBUG
                logger.log(level, "no access notifications (%s); every key is looked up until they are back", exc)
            if self._following:
                pause = self.retry_seconds
            self._forget(following=False)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 60.0)

    def _listening(self) -> None:
        self._forget(following=True)

    def forget(self) -> None:
        """Forget every key (this process has just changed who may call)."""
        self._forget(following=self._following)

    def _forget(self, *, following: bool) -> None:
        self._known.clear()
        self._generation += 1
        self._following = following
