"""Fixtures for the broker adapters' tests: the faithful fake OpenAlgo and an adapter pointed at it."""

from __future__ import annotations

import pytest

from tests.fakes.openalgo_server import FakeOpenAlgo
from tests.positions.broker.helpers import KEY, make_broker


@pytest.fixture
def fake():
    """The faithful fake; exchange sessions off so orders can be placed at any wall-clock time."""
    with FakeOpenAlgo(api_key=KEY, sessions=False) as server:
        yield server


@pytest.fixture
def broker(fake):
    with make_broker(fake.url) as client:
        yield client
