"""Access to Redis that degrades instead of failing: callers learn "unavailable" quickly and fall back.

Redis is optional for correctness (PostgreSQL is the source of truth), so every caller handles
``RedisUnavailable``.  A short circuit breaker stops a dead Redis from adding its connect timeout to
every request; it probes again after ``RETRY_AFTER`` seconds, so service resumes on its own.
"""

from __future__ import annotations

import os
import threading
import time

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

RETRY_AFTER = 2.0


class RedisUnavailable(Exception):
    pass


class _Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def allow(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + RETRY_AFTER

    def reset(self) -> None:
        self._open_until = 0.0


breaker = _Breaker()
_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_configured() -> bool:
    return bool(settings.REDIS_URL)


def get_redis() -> redis.Redis:
    """The raw client, or RedisUnavailable if Redis is not configured or recently failed."""
    if not redis_configured():
        raise RedisUnavailable("embedded mode: no Redis configured")
    if not breaker.allow():
        raise RedisUnavailable("Redis recently failed; retrying shortly")
    # One client per process (never shared across a fork) and per URL.
    cache_key = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(cache_key)
    if client is None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=10,
            # A pooled connection that died with a Redis restart fails once; retry at once on a fresh one
            # instead of declaring Redis down.  (A Redis that is really down refuses the retry too.)
            retry=Retry(NoBackoff(), 1), retry_on_error=[redis.ConnectionError],
        )
        _clients[cache_key] = client
    return client


def call(fn, *args, **kwargs):
    """Run ``fn(client, ...)``; trip the breaker and raise RedisUnavailable on connection trouble."""
    client = get_redis()
    try:
        result = fn(client, *args, **kwargs)
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        breaker.trip()
        raise RedisUnavailable(str(exc)) from exc
    return result


def key(*parts: str) -> str:
    """Keys are namespaced: ``pm`` in production, a per-run prefix in tests."""
    return ":".join([settings.PM_REDIS_KEY_PREFIX, *parts])


def redis_available() -> bool:
    """A fast yes/no (circuit-broken ping) before handing work to Celery: a publish to a dead
    broker takes seconds to fail inside kombu, which must not stall a request or the beat loop."""
    if not redis_configured():
        return False
    try:
        return bool(call(lambda r: r.ping()))
    except RedisUnavailable:
        return False
