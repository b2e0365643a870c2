"""Flood limits for the websocket interfaces.

Per connection: a token bucket in memory, checked before a frame is even parsed, so a flood
costs its sender and no one else. Per client address: fixed windows in the shared cache
(Redis in production), keyed on an HMAC of the address so no address is stored. Staff often
share one address (the municipality's network), so address limits apply to clients only.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: int
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def frame_bucket() -> TokenBucket:
    return TokenBucket(rate=settings.RATE_FRAMES_PER_SECOND, burst=settings.RATE_FRAME_BURST)


def address_key(scope: dict[str, Any]) -> str:
    """A keyed hash of the client's address (daphne puts the proxy's X-Forwarded-For here)."""
    client = scope.get("client") or ("unknown", 0)
    digest = hmac.new(settings.SECRET_KEY.encode(), str(client[0]).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


async def over_limit(kind: str, key: str, *, limit: int, window: int) -> int:
    """Count one event of `kind` for `key` in the current window of `window` seconds.
    Returns 0 within the limit, else the seconds until the window ends."""
    now = time.time()
    window_start = int(now // window) * window
    cache_key = f"rate:{kind}:{key}:{window_start}"
    await cache.aadd(cache_key, 0, timeout=window + 5)
    try:
        count = await cache.aincr(cache_key)
    except ValueError:  # expired between add and incr
        await cache.aset(cache_key, 1, timeout=window + 5)
        count = 1
    if count <= limit:
        return 0
    return max(1, math.ceil(window_start + window - now))
