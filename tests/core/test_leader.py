"""The leader lease and its fencing token, against real Redis and PostgreSQL."""

from __future__ import annotations

import os
import time

import pytest
from django.db import transaction

from core.leader import Lease, StaleLeader, current_leader, fencing_verify
from core.models import LeaderLease
from core.redis_client import breaker, call, key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def leases():
    made: list[Lease] = []

    def make(**kwargs) -> Lease:
        lease = Lease(**kwargs)
        made.append(lease)
        return lease

    yield make
    for lease in made:
        lease.release()
        lease._close_pg()


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    breaker.reset()
    yield
    breaker.reset()


def test_only_one_holder_and_the_token_is_recorded(leases):
    first, second = leases(), leases()
    assert first.ensure() and not second.ensure()
    assert first.backend == "redis" and first.held
    lease = LeaderLease.objects.get()
    assert (lease.epoch, lease.backend) == (first.epoch, "redis")
    assert current_leader() == lease.holder
    assert first.ensure()  # renewal
    assert LeaderLease.objects.get().epoch == first.epoch  # renewing takes no new token


def test_release_hands_over_at_once_with_a_higher_token(leases):
    first, second = leases(), leases()
    first.ensure()
    old = first.epoch
    first.release()
    assert not first.held and LeaderLease.objects.get().released_at is not None
    assert second.ensure() and second.epoch > old


def test_a_deposed_leaders_writes_are_refused(leases):
    old, new = leases(), leases()
    old.ensure()
    stale = old.epoch
    call(lambda r: r.delete(key("leader")))  # the lease expired while the old leader was paused
    assert new.ensure()
    with pytest.raises(StaleLeader), transaction.atomic():
        fencing_verify(epoch=stale)
    with transaction.atomic():
        fencing_verify(epoch=new.epoch)
    assert not old.ensure()  # it cannot renew someone else's lease
    with pytest.raises(StaleLeader), transaction.atomic():
        fencing_verify(epoch=None)


def test_holder_stops_acting_at_its_own_deadline(leases, monkeypatch):
    lease = leases(ttl_ms=2000)
    lease.ensure()
    real = time.monotonic
    monkeypatch.setattr("core.leader.time.monotonic", lambda: real() + 5)
    assert not lease.held  # even though Redis may not have expired the key yet


def test_fencing_token_stays_monotonic_when_redis_loses_its_counter(leases):
    LeaderLease.objects.create(name="default", epoch=100)
    call(lambda r: r.delete(key("leader", "epoch")))  # Redis restarted without persistence
    lease = leases()
    assert lease.ensure() and lease.epoch == 101


def test_a_newer_token_in_the_database_deposes_the_holder(leases):
    lease = leases()
    lease.ensure()
    LeaderLease.objects.update(epoch=lease.epoch + 5)  # e.g. a PostgreSQL-mode leader elected meanwhile
    assert not lease.ensure()


def test_without_redis_leadership_falls_back_to_a_postgres_lock(leases, redis_down):
    # A lease name of its own: a leader left running by an earlier test cannot hold this lock.
    first, second = leases(name="fallback-test"), leases(name="fallback-test")
    before = LeaderLease.objects.filter(name="fallback-test").values_list("epoch", flat=True).first() or 0
    assert first.ensure() and first.backend == "postgres"
    assert first.epoch == before + 1
    assert not second.ensure()  # the advisory lock excludes the second candidate
    assert first.ensure()
    first_epoch = first.epoch
    first.release()
    assert second.ensure() and second.epoch == first_epoch + 1


def test_back_from_the_fallback_to_redis(leases, redis_down, settings):
    lease = leases()
    assert lease.ensure() and lease.backend == "postgres"
    fallback_epoch = lease.epoch
    settings.REDIS_URL = os.environ["REDIS_URL"]  # Redis is back
    breaker.reset()
    assert lease.ensure()
    assert lease.backend == "redis" and lease.epoch > fallback_epoch
    assert lease._pg is None  # the fallback lock was given up
