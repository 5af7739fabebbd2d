"""Locks: transaction-scoped advisory locks, and named locks held across a unit of work (DESIGN §6, §9).

* ``advisory_xact_lock(namespace, name)`` / ``instrument_lock(code)`` — inside a transaction:
  PostgreSQL ``pg_advisory_xact_lock`` (released by commit, rollback or a dead session; no TTL can run
  out under us).  On SQLite (embedded, one process) every write transaction is IMMEDIATE, which
  already serializes writers.
* ``named_lock(namespace, name, ttl=)`` — e.g. the per-signal lock ``pm:signal_lock:<fp>``: a
  redis-py ``Lock`` (SET NX PX; extended and released only with its owner token) renewed by one
  watchdog thread per process while the work runs.  Its token names the owning instance, so the
  locks of a dead instance can be found and removed.  When Redis is unavailable it falls back to a
  PostgreSQL session advisory lock; in embedded mode to an in-process lock.  It never "just succeeds".

Neither kind is the correctness guard — the database state machine and constraints are — they only
stop two workers from doing the same work at once.
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
from redis.exceptions import LockError
from redis.lock import Lock

from core import metrics
from core.dbutils import lock_key
from core.instance import instance_id
from core.redis_client import RedisUnavailable, call, key, redis_configured

log = structlog.get_logger(__name__)

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


def owner_token() -> str:
    """A lock or lease token: the owning instance, then randomness (``<instance>|<hex>``)."""
    return f"{instance_id()}|{secrets.token_hex(8)}"


def token_owner(token: bytes | str) -> str:
    text = token.decode() if isinstance(token, bytes) else token
    return text.split("|", 1)[0]


def redis_lock(redis_key: str, ttl: float) -> Lock:
    """A redis-py lock usable from any thread (the renewer extends what a worker thread acquired)."""
    return call(lambda r: r.lock(redis_key, timeout=ttl, blocking=False, thread_local=False))


@contextlib.contextmanager
def named_lock(namespace: str, name: str, *, ttl: int) -> Iterator[str]:
    """Hold ``pm:<namespace>:<name>`` for the block (renewed every ttl/3, released only by its owner);
    raise LockBusy at once if someone else holds it.  Yields the backend used."""
    if not redis_configured():
        with _local_lock(f"{namespace}:{name}"):
            yield "local"
        return
    redis_key = key(namespace, name)
    try:
        lock = redis_lock(redis_key, ttl)
        acquired = call(lambda _r: lock.acquire(token=owner_token()))
    except RedisUnavailable:
        with _advisory_session_lock(f"{namespace}:{name}"):
            yield "postgres"
        return
    if not acquired:
        _contended(namespace)
        raise LockBusy(redis_key)
    _renewer.hold(redis_key, lock, ttl)
    try:
        yield "redis"
    finally:
        _renewer.drop(redis_key)
        _release(lock)


def _release(lock: Lock) -> None:
    try:
        call(lambda _r: lock.release())
    except (RedisUnavailable, LockError):
        pass  # lost meanwhile (expired, revoked) or Redis is down: either way the TTL frees it


def revoke_abandoned_lock(namespace: str, name: str, *, owner: str) -> bool:
    """Delete a lock only if ``owner`` holds it: for a claim the database has already taken back
    from a dead or stalled worker (its lock would otherwise block the retry for a whole TTL)."""
    if not redis_configured() or not owner:
        return False
    return _release_if_owned_by(key(namespace, name), lambda token_owner_id: token_owner_id == owner)


def _release_if_owned_by(redis_key: str, owned) -> bool:
    """Delete ``redis_key`` when ``owned(owner of its token)``, atomically against a new holder: the
    library's compare-and-delete with the token we read."""
    try:
        token = call(lambda r: r.get(redis_key))
        if token is None or not owned(token_owner(token)):
            return False
        call(lambda r: r.lock(redis_key).do_release(token))
        return True
    except LockError:
        return False  # it changed hands between the read and the delete
    except RedisUnavailable:
        return False


def signal_lock(fingerprint: str):
    """The per-signal lock ``pm:signal_lock:<fp>`` (30 s TTL, renewed while the work runs)."""
    return named_lock("signal_lock", fingerprint, ttl=settings.PM_SIGNAL_LOCK_TTL)


class _Renewer:
    """One thread per process extends every Redis lock this process holds, every ttl/3."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[Lock, int, float]] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, redis_key: str, lock: Lock, ttl: int) -> None:
        with self._guard:
            self._held[redis_key] = (lock, ttl, time.monotonic() + ttl / 3)
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
                due = [(k, lock, ttl) for k, (lock, ttl, at) in self._held.items() if at <= now]
            for redis_key, lock, ttl in due:
                try:
                    call(lambda _r: lock.extend(ttl, replace_ttl=True))
                except RedisUnavailable:
                    continue  # keep trying; the database state machine still guards the work
                except LockError:
                    log.warning("lock_lost", key=redis_key)
                    self.drop(redis_key)
                    continue
                with self._guard:
                    if redis_key in self._held:
                        self._held[redis_key] = (lock, ttl, now + ttl / 3)


_renewer = _Renewer()


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
    token names its owner, and an owner without a live ``pm:heartbeat:<id>`` key is gone.
    """
    if not redis_configured():
        return []
    removed = []
    try:
        for raw_key in call(lambda r: list(r.scan_iter(match=key("signal_lock", "*"), count=500))):
            redis_key = raw_key.decode()
            if _release_if_owned_by(redis_key, lambda owner: not call(lambda r: r.exists(heartbeat_key(owner)))):
                removed.append(redis_key)
    except RedisUnavailable:
        return removed
    if removed:
        log.warning("orphaned_locks_removed", count=len(removed))
    return removed
