"""Locks: the per-instrument serialization lock and the per-signal lock (DESIGN §6, §9).

* ``instrument_lock(code)`` — inside a transaction: PostgreSQL ``pg_advisory_xact_lock`` (released
  by commit, rollback or a dead session; no TTL can run out under us).  On SQLite (embedded, one
  process) every write transaction is IMMEDIATE, which already serializes writers.
* ``signal_lock(fingerprint)`` — Redis ``pm:signal_lock:<fp>`` with a 30 s TTL, renewed by a
  watchdog while the work runs and released only by its owner (compare-and-delete).  When Redis is
  unavailable it falls back to a PostgreSQL session advisory lock; in embedded mode to an
  in-process lock.  It never "just succeeds".

Neither lock is the correctness guard — the database state machine and constraints are — they
only stop two workers from doing the same work at once.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator

import structlog
from django.conf import settings
from django.db import connection, transaction

from core import metrics
from core.dbutils import lock_key
from core.instance import instance_id
from core.redis_client import RedisUnavailable, call, key, redis_configured

log = structlog.get_logger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""

_local_held: set[str] = set()
_local_guard = threading.Lock()


class LockBusy(Exception):
    """Somebody else holds the lock right now."""


def _contended(lock: str) -> None:
    from core.alerts import lock_contended

    metrics.lock_contention.labels(lock=lock).inc()
    lock_contended(lock)


def advisory_xact_lock(namespace: str, name: str) -> None:
    """Serialize the current transaction with every other one that takes the same (namespace, name),
    until it commits or rolls back (PostgreSQL ``pg_advisory_xact_lock``; a dead session frees it).

    On SQLite (embedded, one process) every write transaction is IMMEDIATE, which already serializes
    writers, so there is nothing to take.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a transaction-scoped lock needs a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(namespace, name)])


def instrument_lock(code: str) -> None:
    """Serialize this transaction with every other one on the same instrument."""
    advisory_xact_lock("instrument", code)


@contextlib.contextmanager
def named_lock(namespace: str, name: str, *, ttl: int) -> Iterator[str]:
    """Hold ``pm:<namespace>:<name>`` for the block (renewed every ttl/3 by a watchdog, released only
    by its owner); raise LockBusy at once if someone else holds it.  Yields the backend used.

    Without Redis it falls back to a PostgreSQL session advisory lock; in embedded mode to an
    in-process lock.  It never "just succeeds".
    """
    if not redis_configured():
        with _local_lock(f"{namespace}:{name}"):
            yield "local"
        return
    redis_key = key(namespace, name)
    try:
        token = _redis_acquire(redis_key, ttl=ttl, label=namespace)
    except RedisUnavailable:
        with _advisory_session_lock(f"{namespace}:{name}"):
            yield "postgres"
        return
    _renewer.hold(redis_key, token, ttl)
    try:
        yield "redis"
    finally:
        _renewer.drop(redis_key)
        _redis_release(redis_key, token)


_REVOKE = """
local value = redis.call('get', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
  return redis.call('del', KEYS[1])
end
return 0
"""


def revoke_abandoned_lock(namespace: str, name: str, *, owner: str) -> bool:
    """Delete a lock only if ``owner`` holds it: for a claim the database has already taken back
    from a dead or stalled worker (its lock would otherwise block the retry for a whole TTL)."""
    if not redis_configured() or not owner:
        return False
    try:
        return bool(call(lambda r: r.eval(_REVOKE, 1, key(namespace, name), owner)))
    except RedisUnavailable:
        return False


def signal_lock(fingerprint: str):
    """The per-signal lock ``pm:signal_lock:<fp>`` (30 s TTL, renewed while the work runs)."""
    return named_lock("signal_lock", fingerprint, ttl=settings.PM_SIGNAL_LOCK_TTL)


def _redis_acquire(redis_key: str, *, ttl: int, label: str) -> str:
    # The value names the owning instance, so locks of a dead instance can be found and cleaned up.
    token = f"{instance_id()}|{secrets.token_hex(8)}"
    if not call(lambda r: r.set(redis_key, token, nx=True, px=ttl * 1000)):
        _contended(label)
        raise LockBusy(redis_key)
    return token


class _Renewer:
    """One thread per process extends every Redis lock this process holds, every ttl/3."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, int, float]] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, redis_key: str, token: str, ttl: int) -> None:
        with self._guard:
            self._held[redis_key] = (token, ttl, time.monotonic() + ttl / 3)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pm-lock-renewer", daemon=True)
                self._thread.start()

    def drop(self, redis_key: str) -> None:
        with self._guard:
            self._held.pop(redis_key, None)

    def _run(self) -> None:
        while True:
            self._wake.wait(0.5)
            now = time.monotonic()
            with self._guard:
                due = [(k, t, ttl) for k, (t, ttl, at) in self._held.items() if at <= now]
            for redis_key, token, ttl in due:
                try:
                    still_ours = call(lambda r: r.eval(_EXTEND, 1, redis_key, token, ttl * 1000))
                except RedisUnavailable:
                    continue  # keep trying; the database state machine still guards the work
                with self._guard:
                    if redis_key in self._held:
                        self._held[redis_key] = (token, ttl, now + ttl / 3)
                if not still_ours:
                    log.warning("lock_lost", key=redis_key)
                    self.drop(redis_key)


_renewer = _Renewer()


def _redis_release(redis_key: str, token: str) -> None:
    try:
        call(lambda r: r.eval(_RELEASE, 1, redis_key, token))
    except RedisUnavailable:
        pass  # the TTL frees it


@contextlib.contextmanager
def _advisory_session_lock(name: str) -> Iterator[None]:
    """Session-scoped advisory lock, always unlocked on the same connection before it goes back."""
    if connection.vendor != "postgresql":
        with _local_lock(name):
            yield
        return
    lock_id = lock_key("lock", name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
        if not cursor.fetchone()[0]:
            _contended(name.split(":", 1)[0])
            raise LockBusy(name)
    try:
        yield
    finally:
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


@contextlib.contextmanager
def _local_lock(name: str) -> Iterator[None]:
    """In-process lock for the embedded mode (one process by construction)."""
    with _local_guard:
        if name in _local_held:
            _contended(name.split(":", 1)[0])
            raise LockBusy(name)
        _local_held.add(name)
    try:
        yield
    finally:
        with _local_guard:
            _local_held.discard(name)


def heartbeat_key(instance: str) -> str:
    return key("heartbeat", instance)


def orphaned_locks_cleanup() -> list[str]:
    """Delete signal locks whose owner instance no longer heartbeats (it died holding them).

    Without this a killed worker's lock would block its signal until the TTL ran out; the lock's
    value names its owner, and an owner without a live ``pm:heartbeat:<id>`` key is gone.
    """
    if not redis_configured():
        return []
    removed = []
    try:
        for raw_key in call(lambda r: list(r.scan_iter(match=key("signal_lock", "*"), count=500))):
            value = call(lambda r: r.get(raw_key))
            if value is None:
                continue
            owner = value.decode().split("|", 1)[0]
            if call(lambda r: r.exists(heartbeat_key(owner))):
                continue
            if call(lambda r: r.eval(_RELEASE, 1, raw_key, value)):
                removed.append(raw_key.decode())
    except RedisUnavailable:
        return removed
    if removed:
        log.warning("orphaned_locks_removed", count=len(removed))
    return removed
