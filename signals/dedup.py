"""The two fast-path dedup layers in front of the database constraint (DESIGN §6).

Both map a fingerprint to the id of its committed signal and are filled only after the commit,
so a cache can never claim a signal exists that the database does not have.  A hit is still
confirmed by the database when the duplicate is counted; a stale entry just falls through.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from django.conf import settings

from core import metrics
from core.redis_client import RedisUnavailable, call, key, redis_configured

LOCAL_TTL_SECONDS = 600
LOCAL_MAX_ENTRIES = 50_000


class LocalTTLCache:
    """A small thread-safe LRU with expiry; process-local, so each instance has its own."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._data: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, fingerprint: str) -> int | None:
        with self._lock:
            item = self._data.get(fingerprint)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[fingerprint]
                return None
            self._data.move_to_end(fingerprint)
            return value

    def set(self, fingerprint: str, signal_id: int) -> None:
        with self._lock:
            self._data[fingerprint] = (time.monotonic() + self.ttl, signal_id)
            self._data.move_to_end(fingerprint)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


local_cache = LocalTTLCache(ttl=LOCAL_TTL_SECONDS, max_entries=LOCAL_MAX_ENTRIES)


def _redis_key(fingerprint: str) -> str:
    return key("fp", fingerprint)


def lookup(fingerprint: str) -> tuple[str, int] | None:
    """(layer, signal id) of a fingerprint already committed, from the cheapest layer that knows it."""
    signal_id = local_cache.get(fingerprint)
    if signal_id is not None:
        return "local", signal_id
    if not redis_configured():
        return None
    try:
        raw = call(lambda r: r.get(_redis_key(fingerprint)))
    except RedisUnavailable:
        return None
    if raw is None:
        return None
    local_cache.set(fingerprint, int(raw))
    return "redis", int(raw)


def remember(fingerprint: str, signal_id: int) -> None:
    """Called after the signal's row is committed."""
    local_cache.set(fingerprint, signal_id)
    if redis_configured():
        try:
            call(lambda r: r.set(_redis_key(fingerprint), signal_id, ex=settings.PM_DEDUP_CACHE_SECONDS))
        except RedisUnavailable:
            pass  # the database constraint still deduplicates


def count_hit(layer: str) -> None:
    metrics.dedup_hits.labels(layer=layer).inc()
