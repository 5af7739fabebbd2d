"""Each repair of our books (close at a price, adopt the broker quantity, import a broker position,
settle an unresolved order) needs its own permission (DESIGN §15.4), not just staff or the triage
permission: without it the admin answers 403 and nothing changes; with it the repair works and
leaves exactly one audit row with the state before and after."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from core.models import OpsAuditLog
from positions.models import IntentStatus, OrderIntent, Position
from reconciliation.models import Discrepancy
from tests.factories import make_position
from tests.reconciliation.helpers import CONSISTENT_BOOK, GOLD, PE, fill
from tests.reconciliation.test_triage_admin import act, discrepancy, paper, positions, reconcile  # noqa: F401

pytestmark = pytest.mark.django_db


def _close(paper, positions):
    fill(paper, {(PE, "NFO"): -90, ("BANKNIFTY24FEB2652000CE", "NFO"): 90})
    reconcile()
    ids = [positions[k].pk for k in ("gold_base", "gold_pyr1", "gold_pyr2")]
    return discrepancy(), {"positions": ids, "price": "72800", "note": "sold by hand"}


def _adopt(paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    reconcile()
    lots = {f"lots_{positions[k].pk}": n for k, n in (("gold_base", 3), ("gold_pyr1", 1), ("gold_pyr2", 1))}
    return discrepancy(), {**lots, "note": "RMS sold two"}


def _import(paper, positions):
    fill(paper, CONSISTENT_BOOK)
    paper.set("SILVERM27FEB26FUT", "MCX", 2, average_price="88000")
    reconcile()
    return discrepancy("SILVERM27FEB26FUT"), {"layer": 1, "initial_stop": "86200", "atr": "900", "note": "leftover"}


def _settle(paper, positions):
    """An entry whose order answer was lost and that the order book never showed: ops declare it
    not placed, and the position fails."""
    position = make_position("COPPER", layer=1, status="opening", lots=1, futures_symbol="COPPER27FEB26FUT")
    intent = OrderIntent.objects.create(client_order_id="PM-test-unresolved", position=position, purpose="entry",
                                        leg="FUT", sequence=1, symbol="COPPER27FEB26FUT", exchange="MCX",
                                        action="BUY", quantity=1, status=IntentStatus.UNRESOLVED)
    record = Discrepancy.objects.create(kind="unresolved_order", order_intent=intent, symbol=intent.symbol,
                                        exchange="MCX", instrument_id="COPPER", expected_quantity=0,
                                        broker_quantity=0)
    return record, {"not_placed": "on", "note": "not in the order book"}


REPAIRS = {
    "close_positions": ("close_positions_at_price", "discrepancy_positions_closed", _close),
    "adopt_broker_quantity": ("adopt_broker_quantity", "discrepancy_quantity_adopted", _adopt),
    "import_position": ("import_broker_position", "discrepancy_position_imported", _import),
    "settle_order": ("settle_unresolved_order", "unresolved_order_settled", _settle),
}


@pytest.mark.parametrize("action", REPAIRS)
def test_each_repair_needs_its_own_permission_and_leaves_one_audit_row(action, paper, positions, client,  # noqa: F811
                                                                       django_user_model):
    permission, audit, prepare = REPAIRS[action]
    record, fields = prepare(paper, positions)
    books = sorted(Position.objects.values_list("id", "status", "lots"))
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    # Staff who may look and triage (acknowledge, resolve), but not this repair.
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_discrepancy", "change_discrepancy"]))
    client.force_login(clerk)

    assert act(client, action, record).status_code == 403  # its confirmation page
    assert act(client, action, record, **fields).status_code == 403  # and its submit
    assert sorted(Position.objects.values_list("id", "status", "lots")) == books
    assert Discrepancy.objects.get(pk=record.pk).status == "open" and not OpsAuditLog.objects.exists()

    clerk.user_permissions.add(Permission.objects.get(codename=permission))
    assert act(client, action, record).status_code == 200
    done = act(client, action, record, **fields)
    assert done.status_code == 302
    assert Discrepancy.objects.get(pk=record.pk).status == "resolved"
    [entry] = OpsAuditLog.objects.filter(actor="clerk")
    assert (entry.action, entry.target_id, entry.note) == (audit, str(record.pk), fields["note"])
    assert entry.before["status"] == "open" and entry.after["status"] == "resolved"
    assert entry.before != entry.after


def test_the_audit_row_of_a_repair_holds_the_positions_before_and_after(ops_admin, paper, positions):  # noqa: F811
    record, fields = _adopt(paper, positions)
    act(ops_admin, "adopt_broker_quantity", record, **fields)
    entry = OpsAuditLog.objects.get()
    assert [p["lots"] for p in entry.before["positions"]] == [4, 2, 1]
    assert [p["lots"] for p in entry.after["positions"]] == [3, 1, 1]
