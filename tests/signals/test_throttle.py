"""The failed-authentication throttle (DESIGN §4): per client address, shared by instances through
Redis, and failing open when Redis is down (abuse damping must never refuse traffic)."""

from __future__ import annotations

import pytest

from signals.models import SignalLog
from tests import payloads

pytestmark = pytest.mark.django_db


def test_with_redis_down_failed_authentications_are_never_throttled_and_signals_still_land(portfolio, webhook,
                                                                                            settings):
    settings.CACHES = {**settings.CACHES, "shared": {**settings.CACHES["shared"], "LOCATION": "redis://127.0.0.1:1/0"}}
    entry = payloads.entry(timestamp=webhook.at(0))
    codes = [webhook.post(entry, secret="bad", REMOTE_ADDR="10.0.0.9").status_code for _ in range(25)]
    assert set(codes) == {401}
    assert webhook.post(entry, REMOTE_ADDR="10.0.0.9").status_code == 202
    assert SignalLog.objects.count() == 1


def test_the_count_is_shared_through_redis(portfolio, webhook):
    """The counter lives in Redis, not in this process: a fresh process-local cache changes nothing."""
    from django.core.cache import caches

    entry = payloads.entry(timestamp=webhook.at(0))
    for _ in range(20):
        webhook.post(entry, secret="bad", REMOTE_ADDR="10.0.0.7")
    caches["default"].clear()
    assert webhook.post(entry, secret="bad", REMOTE_ADDR="10.0.0.7").status_code == 429
