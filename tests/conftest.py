"""Shared fixtures.  Tests run against real PostgreSQL and Redis (see config/test_settings.py)."""

from __future__ import annotations

import pytest
from django.db import connections


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's set-up, plus a refusal to run against any database not named test*."""
    for alias in connections:
        name = str(connections[alias].settings_dict["NAME"]).rsplit("/", 1)[-1]
        assert name.startswith("test"), f"refusing to use non-test database {name!r}"
    yield
