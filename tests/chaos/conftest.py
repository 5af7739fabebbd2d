"""Real processes on loopback (tests/cluster.py) against the pytest test database and a private Redis."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from tests.cluster import Cluster, RedisServer
from tests.conftest import seed_instruments


def database_url(port: int | None = None) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{port or db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def cluster(transactional_db, tmp_path):
    from portfolio.services import portfolio_initialise

    seed_instruments()
    portfolio_initialise(capital="5000000", actor="test")
    redis = RedisServer(tmp_path).start()
    running = Cluster(database_url(), tmp_path, redis)
    yield running
    running.stop()
    if redis.process and redis.process.poll() is None:
        redis.shutdown()


def schedule_probe(every: int = 1, name: str = "test:probe") -> None:
    """A 1-second leader job (recovery.jobs 'leader_probe') so emissions can be timed precisely."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=name, task="recovery.run_job", interval=interval,
                                kwargs=json.dumps({"job": "leader_probe"}))
