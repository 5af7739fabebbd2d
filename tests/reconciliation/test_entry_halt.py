"""An open discrepancy halts new entries and pyramids of its instrument; exits still run; acknowledging
it in the admin lifts the halt (DESIGN §10, Appendix A ``instrument_halted``)."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import F
from django.urls import reverse

from core.models import OpsAuditLog
from positions.models import PaperOrder, PaperPosition, Position
from reconciliation.models import Discrepancy
from reconciliation.services.reconcile import reconciliation_run
from signals.models import SignalLog


def latest(kind: str) -> SignalLog:
    return SignalLog.objects.filter(signal_type=kind).latest("id")


def test_open_discrepancy_blocks_entries_not_exits_until_acknowledged(live_portfolio, webhook, ops_admin):
    webhook.entry(minute=0)
    base = Position.objects.get()
    PaperPosition.objects.filter(symbol=base.futures_symbol).update(net_quantity=F("net_quantity") + 1)
    assert reconciliation_run(trigger="periodic")["outcome"] == "discrepancies"
    record = Discrepancy.objects.get()
    assert (record.kind, record.instrument_id, record.status) == ("mismatch", "GOLD_MINI", "open")

    webhook.entry(position="Long_2", minute=1, price=73000)
    pyramid = latest("PYRAMID")
    assert (pyramid.status, pyramid.reason) == ("blocked", "reconciliation_mismatch")

    webhook.exit(position="Long_1", minute=2, price=72500)  # exits are never halted
    assert latest("EXIT").status == "executed" and Position.objects.get(pk=base.pk).status == "closed"

    webhook.entry(minute=3)
    entry = latest("BASE_ENTRY")
    assert (entry.status, entry.reason) == ("blocked", "reconciliation_mismatch")
    halted = next(c for c in entry.result["checks"] if c["check"] == "instrument_halted")
    assert halted == {"check": "instrument_halted", "passed": False, "detail": {"open_discrepancies": 1}}
    orders = PaperOrder.objects.count()

    response = ops_admin.post(reverse("admin:reconciliation_discrepancy_changelist"), {
        "action": "acknowledge", ACTION_CHECKBOX_NAME: [record.pk], "apply": "yes", "note": "manual lot, known"})
    assert response.status_code == 302
    assert OpsAuditLog.objects.get().action == "discrepancy_acknowledged"

    webhook.entry(minute=4)
    assert latest("BASE_ENTRY").status == "executed"
    assert PaperOrder.objects.count() == orders + 1
