"""The two fast-path dedup layers in front of the database constraint (DESIGN §6): this process's
cache (Django's local-memory cache, bounded) and Redis ``pm:fp:<fingerprint>`` shared by instances.

Both map a fingerprint to the id of its committed signal and are filled only after the commit,
so a cache can never claim a signal exists that the database does not have.  A hit is still
confirmed by the database when the duplicate is counted; a stale entry just falls through.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from core import metrics
from core.redis_client import RedisUnavailable, call, key, redis_configured

LOCAL_TTL_SECONDS = 600


def _local_key(fingerprint: str) -> str:
    return f"fp:{fingerprint}"


def _redis_key(fingerprint: str) -> str:
    return key("fp", fingerprint)


def lookup(fingerprint: str) -> tuple[str, int] | None:
    """(layer, signal id) of a fingerprint already committed, from the cheapest layer that knows it."""
    signal_id = cache.get(_local_key(fingerprint))
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
    cache.set(_local_key(fingerprint), int(raw), LOCAL_TTL_SECONDS)
    return "redis", int(raw)


def remember(fingerprint: str, signal_id: int) -> None:
    """Both layers at once; called after the signal's row is committed."""
    remember_locally(fingerprint, signal_id)
    if redis_configured():
        try:
            call(lambda r: remember_in(r, fingerprint, signal_id))
        except RedisUnavailable:
            pass  # the database constraint still deduplicates


def remember_locally(fingerprint: str, signal_id: int) -> None:
    cache.set(_local_key(fingerprint), signal_id, LOCAL_TTL_SECONDS)


def remember_in(client, fingerprint: str, signal_id: int):
    """The Redis layer's write, on a client or a pipeline (the accepting path batches it)."""
    return client.set(_redis_key(fingerprint), signal_id, ex=settings.PM_DEDUP_CACHE_SECONDS)


def count_hit(layer: str) -> None:
    metrics.dedup_hits.labels(layer=layer).inc()
