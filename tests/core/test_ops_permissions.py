"""Money- and state-moving actions (DESIGN §15.4) through the Django test client, in the admin and
the API: a staff user without the action's own permission gets 403 and changes nothing; with it the
action works and leaves exactly one audit row (who, what, before/after).  The discrepancy repairs
are in tests/reconciliation/test_triage_permissions.py, "roll now" in tests/positions/test_rollover_ops.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.models import OpsAuditLog
from portfolio.models import CapitalTransaction, PortfolioState
from portfolio.services import trading_pause
from reconciliation.models import ReconciliationRun

pytestmark = pytest.mark.django_db
VIEW = ["view_portfoliostate", "view_capitaltransaction", "view_reconciliationrun"]


@dataclass(frozen=True)
class Action:
    permission: str
    audit: str
    run: Callable  # (admin client, api client) -> response
    state: Callable  # () -> what the action changes
    ok: int = 200
    paused_before: bool = False


def ledger():
    return list(CapitalTransaction.objects.values_list("kind", "amount"))


def paused():
    return PortfolioState.objects.get().paused


def runs():
    return ReconciliationRun.objects.count()


def _flow(kind):
    return lambda admin, api: admin.post("/admin/portfolio/capitaltransaction/add/",
                                         {"kind": kind, "amount": "1000", "token": uuid.uuid4().hex})


def _api_flow(path):
    return lambda admin, api: api.post(path, {"amount": "1000"}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)


ACTIONS = {
    "admin deposit": Action("deposit_capital", "capital_deposit", _flow("DEPOSIT"), ledger, ok=302),
    "admin withdrawal": Action("withdraw_capital", "capital_withdraw", _flow("WITHDRAW"), ledger, ok=302),
    "api deposit": Action("deposit_capital", "capital_deposit", _api_flow("/api/capital/deposit"), ledger, ok=201),
    "api withdrawal": Action("withdraw_capital", "capital_withdraw", _api_flow("/api/capital/withdraw"), ledger,
                             ok=201),
    "admin pause": Action("pause_trading", "trading_paused", lambda admin, api: admin.post(
        "/admin/portfolio/portfoliostate/pause/", {"reason": "budget day"}), paused, ok=302),
    "admin resume": Action("resume_trading", "trading_resumed", lambda admin, api: admin.post(
        "/admin/portfolio/portfoliostate/", {"action": "resume_trading", "_selected_action": ["1"]}), paused, ok=302,
        paused_before=True),
    "api pause": Action("pause_trading", "trading_paused", lambda admin, api: api.post(
        "/api/trading/pause", {"reason": "budget day"}, format="json"), paused),
    "api resume": Action("resume_trading", "trading_resumed", lambda admin, api: api.post("/api/trading/resume"),
                         paused, paused_before=True),
    "admin reconcile now": Action("run_reconciliation", "reconcile_now", lambda admin, api: admin.post(
        "/admin/reconciliation/reconciliationrun/run/"), runs, ok=302),
    "api reconcile now": Action("run_reconciliation", "reconcile_now", lambda admin, api: api.post("/api/reconcile/"),
                                runs),
}


@pytest.fixture
def clerk(django_user_model):
    """Staff who may look at everything these actions touch, and run none of them."""
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=VIEW))
    return user


def clients(user, client):
    client.force_login(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client, api


@pytest.mark.parametrize("name", ACTIONS)
def test_each_action_needs_its_own_permission_and_leaves_one_audit_row(name, portfolio, clerk, client):
    action = ACTIONS[name]
    if action.paused_before:
        trading_pause(reason="set up", actor="setup")
    admin, api = clients(clerk, client)
    before = action.state()

    refused = action.run(admin, api)
    assert refused.status_code == 403, name
    assert action.state() == before and not OpsAuditLog.objects.filter(actor="clerk").exists()

    clerk.user_permissions.add(Permission.objects.get(codename=action.permission))
    done = action.run(admin, api)
    assert done.status_code == action.ok, (name, getattr(done, "content", b"")[:500])
    assert action.state() != before
    [entry] = OpsAuditLog.objects.filter(actor="clerk")
    assert entry.action == action.audit and entry.before != entry.after


def test_a_permission_opens_only_its_own_action(portfolio, clerk, client):
    clerk.user_permissions.add(Permission.objects.get(codename="deposit_capital"))
    admin, api = clients(clerk, client)
    assert ACTIONS["api deposit"].run(admin, api).status_code == 201
    assert ACTIONS["api withdrawal"].run(admin, api).status_code == 403
    assert ACTIONS["admin withdrawal"].run(admin, api).status_code == 403
    assert ACTIONS["api pause"].run(admin, api).status_code == 403


def test_audit_rows_say_who_what_before_and_after(portfolio, ops_admin, staff_api):
    ops_admin.post("/admin/portfolio/portfoliostate/pause/", {"reason": "budget day"})
    staff_api.post("/api/trading/resume")
    staff_api.post("/api/capital/deposit", {"amount": "2500.50", "note": "top-up"}, format="json",
                   HTTP_IDEMPOTENCY_KEY="k-1")
    paused_row, resumed, deposit = OpsAuditLog.objects.order_by("id")
    assert (paused_row.actor, paused_row.action, paused_row.note) == ("ops", "trading_paused", "budget day")
    assert (paused_row.before["paused"], paused_row.after["paused"]) == (False, True)
    assert (resumed.before["paused"], resumed.after["paused"]) == (True, False)
    assert (deposit.action, deposit.note, deposit.target_type) == ("capital_deposit", "top-up", "ledger")
    assert (deposit.before["closed_equity"], deposit.after["closed_equity"]) == ("5000000.00", "5002500.50")
    assert deposit.created_at is not None


def test_audit_log_admin_shows_before_and_after(portfolio, ops_admin):
    ops_admin.post("/admin/portfolio/portfoliostate/pause/", {"reason": "budget day"})
    entry = OpsAuditLog.objects.get()
    page = ops_admin.get(f"/admin/core/opsauditlog/{entry.pk}/change/").content.decode()
    assert "before" in page and "after" in page and "budget day" in page
