from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portfolio.models import CapitalTransaction, PortfolioState

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_init_portfolio_is_idempotent():
    assert "initialised with capital ₹5,000,000" in _run("init_portfolio", "--capital", "5000000")
    output = _run("init_portfolio", "--capital", "7000000")
    assert "already initialised" in output and "nothing changed" in output
    assert PortfolioState.objects.get().initial_capital == 5_000_000
    assert CapitalTransaction.objects.count() == 1


@pytest.mark.parametrize("bad", ["-100", "0", "five lakh", "1,00,000"])
def test_init_portfolio_refuses_bad_input(bad):
    with pytest.raises(CommandError, match="--capital"):
        _run("init_portfolio", "--capital", bad)
    assert not PortfolioState.objects.exists()


def test_init_portfolio_requires_capital():
    with pytest.raises(CommandError, match="--capital"):
        call_command("init_portfolio")
