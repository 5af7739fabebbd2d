"""The leader lease with a fencing token (DESIGN §9).

* Redis: the lease is a redis-py ``Lock`` on ``pm:leader`` (``SET NX PX`` with our owner token,
  extended and released only with that token); every acquisition takes a fencing token from ``INCR pm:leader:epoch`` and records it in the database
  with ``UPDATE … SET epoch = :t WHERE epoch < :t``.
* Redis down: a PostgreSQL session advisory lock on a dedicated connection, the token taken from
  the database itself (``epoch = epoch + 1``).
* The holder keeps a monotonic-clock deadline and stops acting once it passes, even before Redis
  says so; leader-only writes call ``fencing_verify`` in their own transaction, so a deposed
  leader's writes are refused by the database whatever it believes.
"""

from __future__ import annotations

import time

import psycopg
import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models.functions import Now
from redis.exceptions import LockError
from redis.lock import Lock

from core import metrics
from core.dbutils import lock_key
from core.instance import instance_id
from core.locks import owner_token, redis_lock, token_owner
from core.models import LeaderLease
from core.redis_client import RedisUnavailable, call, key, redis_available, redis_configured

log = structlog.get_logger(__name__)
LEASE_TABLE = LeaderLease._meta.db_table  # the fallback connection speaks SQL, not the ORM

SAFETY_MARGIN = 0.3  # seconds of the TTL we never use: clock drift and the time a renewal takes


class StaleLeader(Exception):
    """A leader-only write carried a fencing token that is no longer the current one."""


def fencing_verify(*, epoch: int | None, name: str = "default") -> None:
    """Call inside the transaction that does leader-only writes: abort it unless ``epoch`` is current."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("fencing_verify must run inside the transaction it protects")
    current = LeaderLease.objects.select_for_update().filter(name=name).values_list("epoch", flat=True).first()
    if epoch is None or current != epoch:
        raise StaleLeader(f"fencing token {epoch} is stale (current {current})")


def current_leader(name: str = "default") -> str | None:
    """Instance id of the lease holder: Redis when it answers, else the database record."""
    if redis_configured():
        try:
            value = call(lambda r: r.get(key("leader")))
            return token_owner(value) if value else None
        except RedisUnavailable:
            pass
    lease = LeaderLease.objects.filter(name=name).first()
    return lease.holder if lease and lease.holder and lease.released_at is None else None


class Lease:
    """One process's claim on leadership.  Call ``ensure()`` often (every tick); act only while
    ``held``; ``release()`` on graceful shutdown."""

    def __init__(self, *, name: str = "default", ttl_ms: int | None = None) -> None:
        self.name = name
        self.ttl = (ttl_ms or settings.PM_LEADER_LEASE_MS) / 1000
        self._lock: Lock | None = None  # the Redis lease (redis-py Lock with our owner token)
        self.epoch: int | None = None
        self.backend: str | None = None
        self.deadline = 0.0
        self._pg: psycopg.Connection | None = None

    @property
    def held(self) -> bool:
        return self.epoch is not None and time.monotonic() < self.deadline

    def ensure(self) -> bool:
        """Renew if we hold the lease, otherwise try to take it.  True while we are the leader."""
        if self.epoch is not None:
            if self._renew():
                return True
            self._lose("renewal failed or deadline passed")
        if redis_configured():
            try:
                return self._acquire_redis()
            except RedisUnavailable:
                pass
        return self._acquire_postgres()

    # Redis ------------------------------------------------------------------------------------
    def _acquire_redis(self) -> bool:
        started = time.monotonic()
        lock = redis_lock(key("leader"), self.ttl)
        if not call(lambda _r: lock.acquire(token=owner_token())):
            return False
        try:
            epoch = self._record_redis_epoch()
        except (DatabaseError, RedisUnavailable) as exc:
            log.warning("leader_epoch_not_recorded", error=str(exc)[:200])
            self._redis_release(lock)
            return False
        self._gain(lock=lock, epoch=epoch, backend="redis", started=started)
        return True

    def _record_redis_epoch(self) -> int:
        """INCR the Redis counter and record it; if Redis lost its counter (restart, failover) or a
        PostgreSQL-mode leader moved the database ahead, jump the counter past the database."""
        LeaderLease.objects.get_or_create(name=self.name)
        for _ in range(3):
            epoch = int(call(lambda r: r.incr(key("leader", "epoch"))))
            updated = LeaderLease.objects.filter(name=self.name, epoch__lt=epoch).update(
                epoch=epoch, holder=instance_id(), backend="redis", acquired_at=Now(), released_at=None
            )
            if updated:
                return epoch
            database_epoch = LeaderLease.objects.values_list("epoch", flat=True).get(name=self.name)
            call(lambda r: r.set(key("leader", "epoch"), database_epoch))
        raise DatabaseError("could not record a fencing token above the database epoch")

    def _renew(self) -> bool:
        if time.monotonic() >= self.deadline:
            return False
        started = time.monotonic()
        if self.backend == "redis":
            try:
                call(lambda _r: self._lock.extend(self.ttl, replace_ttl=True))
            except RedisUnavailable:
                return True  # cannot renew right now; we keep acting only until our own deadline
            except LockError:
                return False  # expired and taken, or gone with a Redis restart
            if self._superseded(self._database_epoch_django):
                return False
        else:
            try:
                current = self._database_epoch_fallback()
            except psycopg.Error:
                return False  # the session (and with it the advisory lock) is gone
            if current != self.epoch:
                return False
            if redis_available():
                return self._move_to_redis()
        self.deadline = started + self.ttl - SAFETY_MARGIN
        return True

    def _superseded(self, read_epoch) -> bool:
        """Someone recorded a newer token (e.g. a leader elected while we could not be reached)."""
        try:
            current = read_epoch()
        except (DatabaseError, psycopg.Error):
            return False  # the database is unreachable: our own deadline decides
        return current is not None and current != self.epoch

    def _database_epoch_django(self) -> int | None:
        return LeaderLease.objects.filter(name=self.name).values_list("epoch", flat=True).first()

    def _database_epoch_fallback(self) -> int | None:
        row = self._pg.execute(f"SELECT epoch FROM {LEASE_TABLE} WHERE name = %s", [self.name]).fetchone()
        return row[0] if row else None

    @staticmethod
    def _redis_release(lock: Lock) -> None:
        try:
            call(lambda _r: lock.release())
        except (RedisUnavailable, LockError):
            pass

    # PostgreSQL fallback ----------------------------------------------------------------------
    def _acquire_postgres(self) -> bool:
        started = time.monotonic()
        try:
            if self._pg is None or self._pg.closed:
                self._pg = self._connect()
            got = self._pg.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("leader", self.name)]).fetchone()[0]
            if not got:
                return False
            LeaderLease.objects.get_or_create(name=self.name)
            row = self._pg.execute(
                f"UPDATE {LEASE_TABLE} SET epoch = epoch + 1, holder = %s, backend = 'postgres', "
                "acquired_at = now(), released_at = NULL WHERE name = %s RETURNING epoch",
                [instance_id(), self.name],
            ).fetchone()
        except (psycopg.Error, DatabaseError) as exc:
            log.warning("leader_postgres_fallback_failed", error=str(exc)[:200])
            self._close_pg()
            return False
        self._gain(lock=None, epoch=row[0], backend="postgres", started=started)
        return True

    def _connect(self) -> psycopg.Connection:
        """A connection of its own: a session advisory lock must never ride a pooled connection."""
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise psycopg.OperationalError("leadership fallback needs PostgreSQL")
        return psycopg.connect(
            host=db["HOST"], port=db.get("PORT") or 5432, user=db["USER"], password=db["PASSWORD"],
            dbname=db["NAME"], autocommit=True, connect_timeout=2, application_name="pm-leader",
        )

    def _move_to_redis(self) -> bool:
        """Redis is back: take the Redis lease (a fresh, higher token), then drop the fallback lock."""
        try:
            acquired = self._acquire_redis()
        except RedisUnavailable:
            acquired = False
        if acquired:
            self._close_pg()
        return acquired

    def _close_pg(self) -> None:
        if self._pg is not None:
            try:
                # Unlock first: the server frees a closed session's locks only when its backend has
                # exited, a moment after close() returns, and a standby trying then would miss it.
                self._pg.execute("SELECT pg_advisory_unlock_all()")
            except psycopg.Error:
                pass  # the session is gone already, and its locks with it
            try:
                self._pg.close()
            except psycopg.Error:
                pass
        self._pg = None

    # state ------------------------------------------------------------------------------------
    def _gain(self, *, lock: Lock | None, epoch: int, backend: str, started: float) -> None:
        self._lock, self.epoch, self.backend = lock, epoch, backend
        self.deadline = started + self.ttl - SAFETY_MARGIN if backend == "redis" else started + self.ttl
        metrics.is_leader.set(1)
        metrics.leader_changes.labels(change="gained").inc()
        log.warning("leadership_gained", epoch=epoch, backend=backend)
        from core.alerts import alert

        alert("leader_changed", leader=instance_id(), epoch=epoch, backend=backend)

    def _lose(self, why: str) -> None:
        log.warning("leadership_lost", epoch=self.epoch, why=why)
        metrics.is_leader.set(0)
        metrics.leader_changes.labels(change="lost").inc()
        if self.backend == "postgres":
            self._close_pg()
        self._lock, self.epoch, self.backend, self.deadline = None, None, None, 0.0

    def release(self) -> None:
        """Graceful shutdown: give the lease up at once so a standby takes over in milliseconds."""
        if self.epoch is None:
            return
        if self.backend == "redis" and self._lock is not None:
            self._redis_release(self._lock)
        try:
            LeaderLease.objects.filter(name=self.name, epoch=self.epoch).update(released_at=Now())
        except DatabaseError:
            pass
        self._lose("released")
