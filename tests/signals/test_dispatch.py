"""The hand-off after an accepted signal commits: the Redis dedup layer filled and the instrument's
executor woken off the request thread, batched, and still executed when Redis is gone."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY

from config.celery import app as celery_app
from core.redis_client import breaker, call, key
from signals import dedup
from signals.dispatch import handoff_drain, queued_key
from signals.models import SignalLog
from signals.tasks import execute_instrument
from tests.cluster import wait_until


@pytest.fixture
def production_tasks(live_portfolio):
    """Celery tasks published to Redis as in production (nobody consumes them in the test)."""
    celery_app.conf.task_always_eager = False
    yield
    handoff_drain()


def inline_executions() -> float:
    return REGISTRY.get_sample_value("pm_inline_executions_total") or 0.0


@pytest.fixture
def published(monkeypatch):
    """The instruments whose execution task was published."""
    instruments: list[str] = []
    original = execute_instrument.delay
    monkeypatch.setattr(execute_instrument, "delay", lambda code: (instruments.append(code), original(code))[1])
    return instruments


def test_an_accepted_signal_is_remembered_and_its_instrument_woken_once(production_tasks, published, webhook):
    response = webhook.entry(minute=0, price=72000, stop=71500, atr=500)
    assert response.status_code == 202
    assert handoff_drain()
    signal = SignalLog.objects.get()
    assert int(call(lambda r: r.get(key("fp", signal.fingerprint)))) == signal.pk
    assert call(lambda r: r.exists(queued_key("GOLD_MINI")))
    assert published == ["GOLD_MINI"]
    assert dedup.lookup(signal.fingerprint) == ("local", signal.pk)


def test_a_burst_costs_one_task_per_instrument(production_tasks, published, webhook, monkeypatch):
    inline_before = inline_executions()
    first_publish, release = threading.Event(), threading.Event()
    delay = execute_instrument.delay

    def held_delay(code):  # the hand-off thread stops at its first publish until the burst is queued
        first_publish.set()
        release.wait(10)
        return delay(code)

    monkeypatch.setattr(execute_instrument, "delay", held_delay)
    assert webhook.bar("GOLD_MINI", minute=0, price=72000).status_code == 202
    assert first_publish.wait(10)
    for minute in range(1, 4):
        assert webhook.bar("GOLD_MINI", minute=minute, price=72000 + minute).status_code == 202
        assert webhook.bar("COPPER", minute=minute, price=800 + minute).status_code == 202
    release.set()
    assert handoff_drain()
    assert published == ["GOLD_MINI", "COPPER"]  # GOLD_MINI's task still waits: the burst adds none
    assert inline_executions() == inline_before  # and nothing ran in this process instead
    assert set(SignalLog.objects.values_list("status", flat=True)) == {"accepted"}
    for signal in SignalLog.objects.all():
        assert int(call(lambda r: r.get(key("fp", signal.fingerprint)))) == signal.pk


def test_without_redis_the_accepting_process_executes_the_signal(production_tasks, published, webhook, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    breaker.reset()
    inline_before = inline_executions()
    assert webhook.entry(minute=0, price=72000, stop=71500, atr=500).status_code == 202
    signal = wait_until(lambda: SignalLog.objects.filter(status="executed").first(), timeout=20,
                        what="the inline execution")
    assert signal.signal_type == "BASE_ENTRY" and published == []
    assert inline_executions() == inline_before + 1
