"""The back office works through the real URLconf and admin, and writes money only via services."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from portfolio.models import CapitalTransaction, PortfolioState
from portfolio.services import portfolio_initialise

pytestmark = pytest.mark.django_db


def test_every_model_has_a_working_changelist(ops_admin):
    from django.contrib import admin

    portfolio_initialise(capital="100000", actor="t")
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = ops_admin.get(url)
        assert response.status_code == 200, url


def form_token(client) -> str:
    """The one-time token of a blank deposit/withdrawal form, as a browser would submit it."""
    page = client.get(reverse("admin:portfolio_capitaltransaction_add")).content.decode()
    return re.search(r'name="token" value="([0-9a-f]{32})"', page).group(1)


def test_deposit_and_withdrawal_through_admin_form(ops_admin):
    portfolio_initialise(capital="100000", actor="t")
    url = reverse("admin:portfolio_capitaltransaction_add")
    response = ops_admin.post(url, {"kind": "DEPOSIT", "amount": "2500.50", "note": "top-up",
                                    "token": form_token(ops_admin)})
    assert response.status_code == 302
    response = ops_admin.post(url, {"kind": "WITHDRAW", "amount": "500", "note": "", "token": form_token(ops_admin)})
    assert response.status_code == 302
    rows = list(CapitalTransaction.objects.order_by("id").values_list("kind", "amount", "created_by"))
    assert rows[1:] == [("DEPOSIT", Decimal("2500.50"), "ops"), ("WITHDRAW", Decimal("-500.00"), "ops")]
    assert PortfolioState.objects.get().closed_equity == Decimal("102000.50")


def test_withdrawal_beyond_equity_shows_error_and_writes_nothing(ops_admin):
    portfolio_initialise(capital="1000", actor="t")
    response = ops_admin.post(reverse("admin:portfolio_capitaltransaction_add"),
                              {"kind": "WITHDRAW", "amount": "5000", "token": form_token(ops_admin)})
    assert response.status_code == 200
    assert "exceeds closed equity" in response.content.decode()
    assert CapitalTransaction.objects.count() == 1


def test_ledger_rows_are_read_only_in_admin(ops_admin):
    portfolio_initialise(capital="1000", actor="t")
    entry = CapitalTransaction.objects.get()
    response = ops_admin.post(reverse("admin:portfolio_capitaltransaction_change", args=[entry.pk]),
                                 {"amount": "999999"})
    assert response.status_code == 403
    assert CapitalTransaction.objects.get().amount == Decimal("1000")


def test_pause_form_pauses_trading(ops_admin):
    portfolio_initialise(capital="1000", actor="t")
    response = ops_admin.post(reverse("admin:portfolio_portfoliostate_pause"), {"reason": "expiry day"})
    assert response.status_code == 302
    state = PortfolioState.objects.get()
    assert state.paused and state.paused_reason == "expiry day" and state.paused_by == "ops"
