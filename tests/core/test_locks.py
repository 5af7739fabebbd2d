"""Signal and job locks against real Redis: owner-only release, fallbacks, revocation, cleanup."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.instance import instance_id
from core.locks import (
    LockBusy,
    heartbeat_key,
    named_lock,
    orphaned_locks_cleanup,
    revoke_abandoned_lock,
    signal_lock,
)
from core.redis_client import breaker, call, key
from tests.cluster import wait_until


def test_a_held_lock_refuses_a_second_holder_and_frees_on_exit():
    with signal_lock("fp1") as backend:
        assert backend == "redis"
        with pytest.raises(LockBusy), signal_lock("fp1"):
            pass
        value = call(lambda r: r.get(key("signal_lock", "fp1"))).decode()
        assert value.startswith(instance_id() + "|") and call(lambda r: r.pttl(key("signal_lock", "fp1"))) > 0
    assert call(lambda r: r.get(key("signal_lock", "fp1"))) is None


def test_a_lock_whose_holder_stopped_renewing_lapses_after_its_ttl():
    from core.locks import _renewer

    with named_lock("position", "77", ttl=1):
        _renewer.drop(key("position", "77"))  # the holder "dies": nobody extends the lock any more
        with pytest.raises(LockBusy), named_lock("position", "77", ttl=1):
            pass
        wait_until(lambda: call(lambda r: r.exists(key("position", "77"))) == 0, timeout=5, what="the lapse")
        with named_lock("position", "77", ttl=1) as backend:  # a new driver takes it
            assert backend == "redis"


def test_only_the_owner_releases():
    with signal_lock("fp2"):
        call(lambda r: r.set(key("signal_lock", "fp2"), "someone-else|x"))  # our lock expired and was retaken
    assert call(lambda r: r.get(key("signal_lock", "fp2"))) == b"someone-else|x"


def test_revoke_deletes_only_the_named_owners_lock():
    call(lambda r: r.set(key("signal_lock", "fp3"), "dead-worker:12:ab|t"))
    assert not revoke_abandoned_lock("signal_lock", "fp3", owner="other-worker:13:cd")
    assert revoke_abandoned_lock("signal_lock", "fp3", owner="dead-worker:12:ab")
    assert call(lambda r: r.get(key("signal_lock", "fp3"))) is None


def test_orphaned_locks_of_instances_without_heartbeat_are_removed():
    call(lambda r: r.set(key("signal_lock", "dead"), "gone:1:aaaa|t"))
    call(lambda r: r.set(key("signal_lock", "alive"), "here:2:bbbb|t"))
    call(lambda r: r.set(heartbeat_key("here:2:bbbb"), "1", ex=30))
    removed = orphaned_locks_cleanup()
    assert removed == [key("signal_lock", "dead")]
    assert call(lambda r: r.exists(key("signal_lock", "alive")))


@pytest.mark.django_db(transaction=True)
def test_without_redis_the_lock_is_a_postgres_advisory_lock(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    breaker.reset()
    outcomes: list[str] = []

    def contender() -> None:  # on its own thread, so on its own database session
        try:
            with named_lock("job", "x", ttl=30):
                outcomes.append("acquired")
        except LockBusy:
            outcomes.append("busy")
        finally:
            connection.close()

    def contend_from_another_session() -> None:
        thread = threading.Thread(target=contender)
        thread.start()
        thread.join()

    with named_lock("job", "x", ttl=30) as backend:
        assert backend == "postgres"
        contend_from_another_session()
    contend_from_another_session()
    assert outcomes == ["busy", "acquired"]


def test_embedded_mode_uses_an_in_process_lock(settings):
    settings.REDIS_URL = None
    with named_lock("signal_lock", "fp4", ttl=30) as backend:
        assert backend == "local"
        with pytest.raises(LockBusy), named_lock("signal_lock", "fp4", ttl=30):
            pass
    with named_lock("signal_lock", "fp4", ttl=30):
        pass
