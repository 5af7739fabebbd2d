"""Fixtures for the fake OpenAlgo's own tests."""

from __future__ import annotations

import pytest

from tests.fakes.helpers import make_fake


@pytest.fixture
def fake():
    """The faithful fake (every default), its exchange clock inside the NFO and MCX sessions."""
    with make_fake() as server:
        yield server
