"""Shared fixtures.  Tests run against real PostgreSQL and Redis (see config/test_settings.py)."""

from __future__ import annotations

import importlib
import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone
from hypothesis import settings as hypothesis_settings

from config.celery import app as celery_app
from tests import payloads

# Hypothesis profiles.  "default" runs in every suite run: the usual 100 examples, no deadline (an
# example that posts through the whole stack to PostgreSQL on a loaded 2-core machine has no
# meaningful time budget).  "long" is the soak run of the webhook fuzzing:
#   ./scripts/test.sh tests/signals/test_webhook_fuzz.py --hypothesis-profile=long
hypothesis_settings.register_profile("default", max_examples=100, deadline=None)
hypothesis_settings.register_profile("long", max_examples=10_000, deadline=None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's set-up, plus a refusal to run against any database not named test*."""
    for alias in connections:
        name = str(connections[alias].settings_dict["NAME"]).rsplit("/", 1)[-1]
        assert name.startswith("test"), f"refusing to use non-test database {name!r}"
    yield


@pytest.fixture(autouse=True)
def _uncached_loggers():
    """structlog's ``capture_logs`` cannot see a logger cached on first use (production caches them
    for speed), so a test's capture would depend on which tests logged before it.  Per test, because
    a test of the logging set-up (``build_logging``) switches caching back on."""
    import structlog

    structlog.configure(cache_logger_on_first_use=False)


@pytest.fixture(autouse=True)
def _clean_process_state():
    """Caches, throttles and overrides are per process: start every test from nothing."""
    from django.core.cache import caches

    from core.redis_client import RedisUnavailable, breaker, call, key
    from positions.broker.factory import set_broker_override

    caches["default"].clear()  # process-local: dedup fast path, instrument codes, health, alert throttles
    breaker.reset()
    try:
        keys = call(lambda r: r.keys(key("*")))
        if keys:
            call(lambda r: r.delete(*keys))
    except RedisUnavailable:
        pass
    yield
    set_broker_override(None)


@pytest.fixture
def leader():
    """This process holds the leader lease (its fencing epoch is ``leader.epoch``)."""
    from core.leader import Lease

    lease = Lease()
    assert lease.ensure()
    yield lease
    lease.release()


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process (the embedded mode's behaviour) for the duration of a test."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def seed_instruments() -> None:
    seed = importlib.import_module("portfolio.migrations.0003_seed_instruments")
    from portfolio.models import Instrument

    for values in seed.INSTRUMENTS:
        Instrument.objects.update_or_create(code=values["code"], defaults=values)


def seed_market_calendar() -> None:
    """The exchange sessions and 2026 holidays the data migration ships (transactional tests flush them),
    and Christmas of the current year on both exchanges when that year has no list yet: a real holiday
    every year, so the suite does not start warning "no holidays on record" each 1 January."""
    from django.apps import apps

    from portfolio.models import Holiday

    importlib.import_module("portfolio.migrations.0005_market_calendar_2026").seed(apps, None)
    year = timezone.now().year
    for exchange in ("NFO", "MCX"):
        if not Holiday.objects.filter(exchange=exchange, date__year=year).exists():
            Holiday.objects.create(exchange=exchange, date=f"{year}-12-25", description="Christmas")


@pytest.fixture
def portfolio(db):
    """A ₹50,00,000 portfolio (the domain notes' worked examples use this equity)."""
    from portfolio.services import portfolio_initialise

    seed_instruments()
    seed_market_calendar()
    state, _ = portfolio_initialise(capital="5000000", actor="test")
    return state


@pytest.fixture
def live_portfolio(transactional_db, eager_tasks):
    """Like ``portfolio`` but with real commits, for tests with threads, on_commit hooks and crashes."""
    from portfolio.services import portfolio_initialise

    seed_instruments()
    seed_market_calendar()
    state, _ = portfolio_initialise(capital="5000000", actor="test")
    return state


@pytest.fixture
def fake(live_portfolio):
    """The faithful fake OpenAlgo behind the real adapter; sessions off (orders at any wall-clock time)."""
    import httpx

    from positions.broker.factory import set_broker_override
    from positions.broker.openalgo import OpenAlgoBroker
    from tests.fakes.openalgo_server import FakeOpenAlgo

    with FakeOpenAlgo(api_key="test-key", sessions=False) as server:
        broker = OpenAlgoBroker(base_url=server.url, api_key="test-key", retry_backoff=0.01,
                                timeout=httpx.Timeout(1.0, connect=0.5))
        set_broker_override(broker)
        yield server
        broker.close()


class Webhook:
    """Posts TradingView-style alerts through the real URLconf."""

    def __init__(self, client, base_time: datetime) -> None:
        self.client, self.base_time = client, base_time

    def at(self, minutes: float) -> str:
        return (self.base_time + timedelta(minutes=minutes)).isoformat()

    def post(self, payload: dict | str | bytes, *, secret: str | None = settings.PM_WEBHOOK_SECRET, **extra):
        if isinstance(payload, dict):
            body = dict(payload)
            if secret is not None:
                body.setdefault("secret", secret)
            payload = json.dumps(body)
        return self.client.post("/webhook", data=payload, content_type="application/json", **extra)

    def entry(self, instrument="GOLD_MINI", position="Long_1", *, minute=0, **fields):
        return self.post(payloads.entry(instrument=instrument, position=position, timestamp=self.at(minute), **fields))

    def bar(self, instrument="GOLD_MINI", *, minute, price, atr=500):
        return self.post(payloads.bar(instrument=instrument, price=price, atr=atr, timestamp=self.at(minute)))

    def exit(self, instrument="GOLD_MINI", position="ALL", *, minute, price, reason="SuperTrend"):
        return self.post(payloads.exit_(instrument=instrument, position=position, price=price, reason=reason,
                                        timestamp=self.at(minute)))


@pytest.fixture
def webhook(client):
    """Signals timed a few minutes before now, so entries are fresh (not stale, not in the future)."""
    return Webhook(client, timezone.now().replace(microsecond=0) - timedelta(minutes=30))


@pytest.fixture
def ops_user(django_user_model):
    """A staff superuser called ``ops``: the name audit rows record for its actions."""
    return django_user_model.objects.create_user("ops", password="pw", is_staff=True, is_superuser=True)


@pytest.fixture
def ops_admin(client, ops_user):
    """The Django test client logged into the back office as ``ops``."""
    client.force_login(ops_user)
    return client


@pytest.fixture
def staff_api(ops_user):
    """A DRF client authenticated as ``ops`` with a token, as API users are."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ops_user).key}")
    return api


@pytest.fixture
def viewer_api(django_user_model):
    """A DRF client of an authenticated user who is not staff."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(django_user_model.objects.create_user("viewer"))
    return api


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
