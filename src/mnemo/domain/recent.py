"""Values remembered for a while: each for at most ``ttl`` seconds, at most ``capacity`` of them (when full, all
are forgotten at once: simpler than an eviction order, and these maps refill from their source)."""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, *, ttl: float, capacity: int) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._values: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        """The value put under ``key`` at most ``ttl`` seconds ago, else None."""
        found = self._values.get(key)
        if found is None or time.monotonic() - found[1] > self.ttl:
            return None
        return found[0]

    def put(self, key: K, value: V) -> None:
        if len(self._values) >= self.capacity:
            self._values.clear()
        self._values[key] = (value, time.monotonic())

    def clear(self) -> None:
        self._values.clear()
