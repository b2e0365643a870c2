"""Flood limits for the websocket interfaces, keyed to what an abuser controls.

Per connection: a token bucket in memory, checked before a frame is even parsed, so a flood
costs its sender and no one else. Per conversation: messages per minute. Per client address
only ceilings that stop floods, since one address can be a shelter, a school or a mobile
operator's shared address; an address that has shown abuse (`strike`: one of its sockets or
conversations went past a limit) gets the lower `strict` limits for an hour. Windows are
fixed and live in the shared cache (Redis in production), keyed on an HMAC of the address
so no address is stored. Staff often share one address (the municipality's network), so
address limits apply to clients only.

While that cache is down (Redis), the same windows are counted in this process's memory:
the limits still hold, per process, and a frame is neither let through unchecked nor
failed. The counters share one connection pool per process (`shared_cache`), however many
sockets are open.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from chat import realtime


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


_shared: BaseCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> BaseCache:
    """The shared cache as one object for the whole process. Django's `cache` is one object
    per asyncio context, which is one per socket, and each Redis cache object keeps a
    connection pool of its own: every socket held a Redis connection (two file descriptors
    with its own) for as long as it was open. This one pool is shared by the threads the
    checks run in (redis-py's pool is thread-safe)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _shared


@receiver(setting_changed)
def _forget_shared_cache(*, setting: str, **kwargs: Any) -> None:
    """Tests point CACHES elsewhere; the next count opens the cache they chose."""
    global _shared
    if setting == "CACHES":
        with _shared_lock:
            _shared = None


# The address windows while the shared cache does not answer. Bounded: at MAX_ENTRIES the
# oldest third is dropped (windows last a minute or an hour, so few keys live at once).
local_counts = LocMemCache("chat.ratelimit.local", {"OPTIONS": {"MAX_ENTRIES": 20_000}})


def _count(cache_key: str, *, timeout: int, store: BaseCache) -> int:
    """One more in the window. In Redis one round trip (`_count_in_redis`); elsewhere (the
    local cache, tests' caches) the sync `add` and `incr`, atomic there too. Django's
    async `aincr` is a read and a write, which undercounts under concurrency and resets the
    key's expiry."""
    if isinstance(store, RedisCache):
        return _count_in_redis(cache_key, timeout=timeout, store=store)
    store.add(cache_key, 0, timeout=timeout)
    try:
        return store.incr(cache_key)
    except ValueError:  # expired between add and incr
        store.set(cache_key, 1, timeout=timeout)
        return 1


def _count_in_redis(cache_key: str, *, timeout: int, store: RedisCache) -> int:
    """`SET key 0 EX timeout NX` then `INCR key`, in one MULTI/EXEC: one round trip (Django's
    `add` and `incr` take three: SET NX, EXISTS, INCR), and the key cannot expire between
    the two, so it always has its expiry. The key and the integer value are as Django's
    cache writes them, so `counted` (the cache's `get`) reads it."""
    key = store.make_and_validate_key(cache_key)
    # Django's client for the cache's server (the stubs do not know `_cache`).
    client = store._cache.get_client(key, write=True)  # type: ignore[attr-defined]
    pipe = client.pipeline(transaction=True)
    pipe.set(key, 0, ex=timeout, nx=True)
    pipe.incr(key)
    _created, count = pipe.execute()
    return int(count)


def count_one(cache_key: str, *, timeout: int) -> int:
    """One more under `cache_key`, which lives `timeout` seconds from its first count; the
    count so far. In the shared cache, or in this process while it is down (logged once per
    outage by chat/realtime.py). The one counter of the flood limits and the case-code
    tries."""
    try:
        count = _count(cache_key, timeout=timeout, store=shared_cache())
    except realtime.REDIS_DOWN as error:
        realtime.outage.failed(realtime.CACHE, error)
        return _count(cache_key, timeout=timeout, store=local_counts)
    realtime.outage.answered(realtime.CACHE)
    return count


def counted(cache_key: str) -> int:
    """How many `count_one` has counted under `cache_key` (0 once it has expired)."""
    try:
        value = shared_cache().get(cache_key)
    except realtime.REDIS_DOWN as error:
        realtime.outage.failed(realtime.CACHE, error)
        value = local_counts.get(cache_key)
    return int(value or 0)


def strike_key(address: str) -> str:
    return f"rate:strikes:{address}"


def strike(address: str) -> int:
    """One more sign of abuse from `address`: counted for RATE_ABUSE_SECONDS from the first."""
    return count_one(strike_key(address), timeout=settings.RATE_ABUSE_SECONDS)


def abusive(address: str) -> bool:
    """Whether `address` has shown abuse: RATE_ABUSE_STRIKES strikes within the hour."""
    return counted(strike_key(address)) >= settings.RATE_ABUSE_STRIKES


def _refused(
    cache_key: str, *, timeout: int, limit: int, strict: int | None, address: str | None
) -> bool:
    """Count one under `cache_key` and say whether it is past the limit. The strike count is
    read only when the count lies between `strict` and `limit`; the first refusal of a
    window is a strike against `address`."""
    count = count_one(cache_key, timeout=timeout)
    if count > limit:
        if address is not None and count == limit + 1:
            strike(address)
        return True
    return strict is not None and address is not None and count > strict and abusive(address)


async def over_limit(
    kind: str,
    key: str,
    *,
    limit: int,
    window: int,
    strict: int | None = None,
    address: str | None = None,
) -> int:
    """Count one event of `kind` for `key` in the current window of `window` seconds.
    Returns 0 within the limit, else the seconds until the window ends. `address` (its
    `address_key`): the address whose strikes lower the limit to `strict`, and that gets a
    strike when this limit is first passed in a window. Runs off the database thread, so a
    flood of checks does not hold up anyone's messages."""
    now = time.time()
    window_start = int(now // window) * window
    cache_key = f"rate:{kind}:{key}:{window_start}"
    refused = await sync_to_async(_refused, thread_sensitive=False)(
        cache_key, timeout=window + 5, limit=limit, strict=strict, address=address
    )
    if not refused:
        return 0
    return max(1, math.ceil(window_start + window - now))


async def note_strike(address: str) -> None:
    """`strike`, off the database thread (a socket's frame bucket tripped)."""
    await sync_to_async(strike, thread_sensitive=False)(address)
