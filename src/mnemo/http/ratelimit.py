"""A per-key token bucket (per API process): sustained ``per_minute`` requests, bursts up to a minute's worth."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from mnemo.errors import MnemoError


class RateLimited(MnemoError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, *, max_keys: int = 100_000) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._buckets: dict[uuid.UUID, _Bucket] = {}

    def check(self, key_id: uuid.UUID) -> None:
        """Take one token for ``key_id`` or raise RateLimited saying when to come back."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(key_id)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()
            bucket = self._buckets[key_id] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        wait = math.ceil((1.0 - bucket.tokens) / rate)
        raise RateLimited(
            f"Rate limit of {self.per_minute} requests per minute for this API key exceeded; retry in {wait} s.",
            retry_after=wait,
        )
