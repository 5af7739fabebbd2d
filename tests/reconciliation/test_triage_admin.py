"""Discrepancy triage in the admin, exercised through the Django test client: each action shows its
confirmation page, refuses bad input without writing, and leaves one audit record when applied."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from core.models import OpsAuditLog
from portfolio.models import CapitalTransaction
from positions.broker.factory import set_broker_override
from positions.models import PaperOrder, Position, PyramidingState
from reconciliation.models import Discrepancy
from reconciliation.services.reconcile import reconciliation_run
from tests.reconciliation.helpers import CE, CONSISTENT_BOOK, GOLD, PE, PaperBook, fill, shared_contracts

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:reconciliation_discrepancy_changelist")


@pytest.fixture
def paper(portfolio):
    book = PaperBook()
    set_broker_override(book.broker)
    return book


@pytest.fixture
def positions(paper):
    return shared_contracts()


def reconcile():
    return reconciliation_run(trigger="manual")


def discrepancy(symbol=GOLD) -> Discrepancy:
    return Discrepancy.objects.exclude(status="resolved").get(symbol=symbol)


def act(client, action, record, **fields):
    """Choose the action on the changelist (→ its page), or, with fields, submit that page."""
    data = {"action": action, ACTION_CHECKBOX_NAME: [record.pk] if isinstance(record, Discrepancy) else record}
    if fields:
        data.update(apply="yes", **fields)
    else:
        data["index"] = 0
    return client.post(CHANGELIST, data)


def audits(action):
    return list(OpsAuditLog.objects.filter(action=action).values_list("actor", "target_id", "note"))


def test_changelist_filters_and_index_banner(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5, ("SILVERM27FEB26FUT", "MCX"): 2})
    reconcile()
    Discrepancy.objects.filter(symbol=GOLD).update(created_at=timezone.now() - timedelta(days=3))
    count = lambda query: ops_admin.get(f"{CHANGELIST}?{query}").context["cl"].result_count  # noqa: E731
    assert count("") == 2
    assert count("kind__exact=missing") == 1 and count("kind__exact=mismatch") == 1
    assert count("instrument__code__exact=SILVER_MINI") == 1
    assert count("status__exact=open") == 2 and count("status__exact=resolved") == 0
    assert count("age=hour") == 1 and count("age=day") == 1 and count("age=older") == 1
    index = ops_admin.get(reverse("admin:index")).content.decode()
    assert "2 open discrepancies" in index and "GOLD_MINI (1)" in index and "SILVER_MINI (1)" in index


def test_acknowledge_asks_for_an_optional_note_and_is_audited(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    reconcile()
    record = discrepancy()
    page = act(ops_admin, "acknowledge", record)
    assert page.status_code == 200 and GOLD in page.content.decode()
    assert discrepancy().status == "open"  # the page alone changes nothing
    response = act(ops_admin, "acknowledge", record, note="checking with the broker desk")
    assert response.status_code == 302
    assert discrepancy().status == "acknowledged"
    assert audits("discrepancy_acknowledged") == [("ops", str(record.pk), "checking with the broker desk")]
    assert "0 open discrepancies" in ops_admin.get(reverse("admin:index")).content.decode()


def test_resolve_needs_a_note(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    reconcile()
    record = discrepancy()
    response = act(ops_admin, "resolve", record, note="   ")
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert discrepancy().status == "open" and not OpsAuditLog.objects.exists()
    assert act(ops_admin, "resolve", record, note="fixed at the broker by hand").status_code == 302
    record.refresh_from_db()
    assert (record.status, record.resolved_by, record.resolution_note) == ("resolved", "ops",
                                                                          "fixed at the broker by hand")
    assert audits("discrepancy_resolved") == [("ops", str(record.pk), "fixed at the broker by hand")]


def test_close_at_price_books_pnl_once_after_confirmation(ops_admin, paper, positions):
    fill(paper, {(PE, "NFO"): -90, (CE, "NFO"): 90})  # the Gold Mini layers were closed at the broker
    reconcile()
    record = discrepancy()
    assert record.kind == "orphaned"
    gold_ids = [positions[k].pk for k in ("gold_base", "gold_pyr1", "gold_pyr2")]
    page = act(ops_admin, "close_positions", record)
    assert page.status_code == 200
    assert all(f"#{pid}" in page.content.decode() for pid in gold_ids) and "No order is sent" in page.content.decode()

    ledger_before = CapitalTransaction.objects.count()
    bad = act(ops_admin, "close_positions", record, positions=gold_ids, price="-5", note="")
    assert bad.status_code == 200 and "Ensure this value is greater than or equal to" in bad.content.decode()
    none = act(ops_admin, "close_positions", record, price="72800", note="")
    assert none.status_code == 200 and "This field is required" in none.content.decode()
    assert CapitalTransaction.objects.count() == ledger_before and not OpsAuditLog.objects.exists()
    assert set(Position.objects.filter(pk__in=gold_ids).values_list("status", flat=True)) == {"open"}

    done = act(ops_admin, "close_positions", record, positions=gold_ids, price="72800", note="sold by hand at 72800")
    assert done.status_code == 302
    pnl = dict(CapitalTransaction.objects.filter(kind="TRADING_PNL").values_list("position_id", "amount"))
    # (72800 − entry) × lots × ₹10: base 4 lots @72000, pyramids 2 @72600 and 1 @73100
    assert pnl == {gold_ids[0]: Decimal("32000.00"), gold_ids[1]: Decimal("4000.00"), gold_ids[2]: Decimal("-3000.00")}
    assert set(Position.objects.filter(pk__in=gold_ids).values_list("status", "exit_price")) == {("closed", 72800)}
    record.refresh_from_db()
    assert (record.status, record.resolved_by) == ("resolved", "ops")
    assert audits("discrepancy_positions_closed") == [("ops", str(record.pk), "sold by hand at 72800")]
    assert not PaperOrder.objects.exists()  # no broker order
    assert PyramidingState.objects.filter(instrument_id="GOLD_MINI", base_position__isnull=False).count() == 0

    again = act(ops_admin, "close_positions", record, positions=gold_ids, price="72800")
    assert again.status_code == 302 and "already resolved" in ops_admin.get(CHANGELIST).content.decode()
    assert CapitalTransaction.objects.filter(kind="TRADING_PNL").count() == 3
    assert reconcile()["outcome"] == "matched"


def test_adopt_the_broker_quantity(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    reconcile()
    record = discrepancy()
    base, pyr1, pyr2 = (positions[k] for k in ("gold_base", "gold_pyr1", "gold_pyr2"))
    page = act(ops_admin, "adopt_broker_quantity", record)
    assert page.status_code == 200 and f'name="lots_{base.pk}"' in page.content.decode()

    wrong = act(ops_admin, "adopt_broker_quantity", record, **{f"lots_{base.pk}": 4, f"lots_{pyr1.pk}": 2,
                                                         f"lots_{pyr2.pk}": 2})
    assert wrong.status_code == 200 and "would hold 8 of GOLDM05FEB26FUT; the broker holds 5" in wrong.content.decode()
    zero = act(ops_admin, "adopt_broker_quantity", record, **{f"lots_{base.pk}": 4, f"lots_{pyr1.pk}": 0,
                                                        f"lots_{pyr2.pk}": 1})
    assert zero.status_code == 200 and "greater than or equal to 1" in zero.content.decode()
    assert [p.lots for p in Position.objects.filter(pk__in=[base.pk, pyr1.pk, pyr2.pk]).order_by("id")] == [4, 2, 1]
    assert not OpsAuditLog.objects.exists()

    done = act(ops_admin, "adopt_broker_quantity", record, note="pyramid 1 half sold by RMS",
               **{f"lots_{base.pk}": 3, f"lots_{pyr1.pk}": 1, f"lots_{pyr2.pk}": 1})
    assert done.status_code == 302
    assert [(p.lots, p.quantity) for p in Position.objects.filter(pk__in=[base.pk, pyr1.pk, pyr2.pk]).order_by("id")
            ] == [(3, 3), (1, 1), (1, 1)]
    record.refresh_from_db()
    assert record.status == "resolved"
    entry = OpsAuditLog.objects.get(action="discrepancy_quantity_adopted")
    assert (entry.actor, entry.note) == ("ops", "pyramid 1 half sold by RMS")
    assert {(c["id"], c["lots_before"], c["lots_after"]) for c in entry.details["positions"]} == {
        (base.pk, 4, 3), (pyr1.pk, 2, 1), (pyr2.pk, 1, 1)}
    assert reconcile()["outcome"] == "matched"


def test_import_a_missing_futures_position(ops_admin, paper, positions):
    fill(paper, CONSISTENT_BOOK)
    paper.set("SILVERM27FEB26FUT", "MCX", 2, average_price="88000")
    reconcile()
    record = discrepancy("SILVERM27FEB26FUT")
    assert act(ops_admin, "import_position", record).status_code == 200

    high = act(ops_admin, "import_position", record, layer=1, initial_stop="88500", atr="900")
    assert high.status_code == 200 and "must be below the entry price 88000" in high.content.decode()
    assert not Position.objects.filter(instrument_id="SILVER_MINI").exists() and not OpsAuditLog.objects.exists()

    done = act(ops_admin, "import_position", record, layer=1, initial_stop="86200", atr="900", note="RMS square-off leftover")
    assert done.status_code == 302
    position = Position.objects.get(instrument_id="SILVER_MINI")
    assert (position.status, position.label, position.lots, position.quantity, position.entry_price,
            position.initial_stop, position.futures_symbol) == (
        "open", "SILVER_MINI_Long_1", 2, 2, 88000, 86200, "SILVERM27FEB26FUT")
    assert PyramidingState.objects.get(instrument_id="SILVER_MINI").base_position_id == position.pk
    assert Discrepancy.objects.get(pk=record.pk).status == "resolved"
    assert audits("discrepancy_position_imported") == [("ops", str(record.pk), "RMS square-off leftover")]
    assert not PaperOrder.objects.exists()
    assert reconcile()["outcome"] == "matched"


def test_import_respects_one_live_position_per_layer(ops_admin, paper, positions):
    fill(paper, CONSISTENT_BOOK)
    paper.set("GOLDM05MAR26FUT", "MCX", 1)  # the broker reports no average price
    reconcile()
    record = discrepancy("GOLDM05MAR26FUT")
    unpriced = act(ops_admin, "import_position", record, layer=4, initial_stop="70000", atr="500")
    assert unpriced.status_code == 200 and "the broker reports no average price" in unpriced.content.decode()
    taken = act(ops_admin, "import_position", record, layer=1, initial_stop="70000", atr="500", entry_price="72500")
    assert taken.status_code == 200 and "is already open on layer 1" in taken.content.decode()
    assert not Position.objects.filter(futures_symbol="GOLDM05MAR26FUT").exists()
    assert act(ops_admin, "import_position", record, layer=4, initial_stop="70000", atr="500",
               entry_price="72500").status_code == 302
    assert Position.objects.get(instrument_id="GOLD_MINI", layer=4).entry_price == 72500


def test_import_a_bank_nifty_synthetic_takes_both_legs(ops_admin, paper, positions):
    fill(paper, CONSISTENT_BOOK)
    paper.set("BANKNIFTY24FEB2652500PE", "NFO", -60, average_price="200")
    paper.set("BANKNIFTY24FEB2652500CE", "NFO", 60, average_price="700")
    reconcile()
    record = discrepancy("BANKNIFTY24FEB2652500PE")
    assert act(ops_admin, "import_position", record, layer=3, initial_stop="52400", atr="350").status_code == 302
    position = Position.objects.get(layer=3, instrument_id="BANK_NIFTY")
    assert (position.lots, position.quantity, position.strike, position.pe_entry_price, position.ce_entry_price,
            position.entry_price) == (2, 60, 52500, 200, 700, 53000)
    assert set(Discrepancy.objects.values_list("status", flat=True)) == {"resolved"}
    assert reconcile()["outcome"] == "matched"


def test_repairs_need_exactly_one_discrepancy_and_the_right_kind(ops_admin, paper, positions):
    reconcile()  # flat broker: three orphaned
    ids = list(Discrepancy.objects.values_list("pk", flat=True))
    response = act(ops_admin, "close_positions", ids)
    assert response.status_code == 302
    assert "Select exactly one discrepancy" in ops_admin.get(CHANGELIST).content.decode()
    wrong_kind = act(ops_admin, "import_position", Discrepancy.objects.first())
    assert wrong_kind.status_code == 302
    assert "Only a missing position can be imported" in ops_admin.get(CHANGELIST).content.decode()
    assert not OpsAuditLog.objects.exists()


def test_staff_without_permission_sees_no_triage_actions(client, django_user_model, paper, positions):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_discrepancy"))
    client.force_login(user)
    reconcile()
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and "close_positions" not in page.content.decode()
    assert act(client, "close_positions", Discrepancy.objects.first()).status_code == 403  # refused outright
    assert not OpsAuditLog.objects.exists()


def test_run_pages_render(ops_admin, paper, positions):
    from recovery.services.recovery import recovery_run

    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5, ("RELIANCE", "NSE"): 4})
    run = recovery_run(trigger="command")
    page = ops_admin.get(reverse("admin:recovery_recoveryrun_change", args=[run.pk])).content.decode()
    assert "contract_expired" in page and "reconciliation_mismatch" in page
    reconciliation_id = run.report["reconciliation"]["run_id"]
    page = ops_admin.get(reverse("admin:reconciliation_reconciliationrun_change", args=[reconciliation_id])).content.decode()
    assert GOLD in page and "mismatch" in page and "NSE:RELIANCE 4" in page
    response = ops_admin.post(reverse("admin:reconciliation_reconciliationrun_run"))
    # The same disagreement again: nothing superseded; the one audit row is the request itself.
    assert response.status_code == 302
    assert list(OpsAuditLog.objects.values_list("actor", "action")) == [("ops", "reconcile_now")]
    page = ops_admin.get(reverse("admin:reconciliation_discrepancy_change", args=[discrepancy().pk])).content.decode()
    assert f"reconciliation #{reconciliation_id}" in page


def test_closing_the_one_pyramid_the_broker_sold_resolves_the_mismatch(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    reconcile()
    record = discrepancy()
    pyramid = positions["gold_pyr1"]
    assert act(ops_admin, "close_positions", record, positions=[pyramid.pk], price="72900").status_code == 302
    record.refresh_from_db()
    assert record.status == "resolved"
    assert list(CapitalTransaction.objects.filter(kind="TRADING_PNL").values_list("position_id", "amount")) == [
        (pyramid.pk, Decimal("6000.00"))]  # (72900 − 72600) × 2 × ₹10
    assert Position.objects.filter(status="open", futures_symbol=GOLD).count() == 2
    assert reconcile()["outcome"] == "matched"


def test_closing_too_little_leaves_the_discrepancy_open(ops_admin, paper, positions):
    reconcile()  # flat broker
    record = discrepancy()
    assert act(ops_admin, "close_positions", record, positions=[positions["gold_pyr2"].pk], price="73000").status_code == 302
    record.refresh_from_db()
    assert record.status == "open"  # we still expect 6 where the broker holds 0
    entry = OpsAuditLog.objects.get(action="discrepancy_positions_closed")
    assert (entry.details["resolved"], entry.details["expected_after"]) == (False, 6)


def test_a_short_at_the_broker_cannot_be_adopted(ops_admin, paper, positions):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): -7})
    reconcile()
    record = discrepancy()
    lots = {f"lots_{positions[k].pk}": 1 for k in ("gold_base", "gold_pyr1", "gold_pyr2")}
    response = act(ops_admin, "adopt_broker_quantity", record, **lots)
    assert response.status_code == 200 and "cannot adopt that" in response.content.decode()
    assert sorted(Position.objects.filter(futures_symbol=GOLD).values_list("lots", flat=True)) == [1, 2, 4]
    assert discrepancy().status == "open" and not OpsAuditLog.objects.exists()


def test_close_refuses_orders_in_flight_and_cancels_never_sent_ones(ops_admin, paper, positions):
    from positions.models import OrderIntent

    reconcile()  # flat broker: GOLD orphaned
    record = discrepancy()
    base, pyr2 = positions["gold_base"], positions["gold_pyr2"]
    Position.objects.filter(pk__in=[base.pk, pyr2.pk]).update(status="closing")
    pending = OrderIntent.objects.create(client_order_id=f"pm-{base.pk}-ex-FUT-1", position=base, purpose="exit",
                                         leg="FUT", sequence=1, symbol=GOLD, exchange="MCX", action="SELL",
                                         quantity=4, status="PENDING")
    sent = OrderIntent.objects.create(client_order_id=f"pm-{pyr2.pk}-ex-FUT-1", position=pyr2, purpose="exit",
                                      leg="FUT", sequence=1, symbol=GOLD, exchange="MCX", action="SELL", quantity=1,
                                      status="SENT")
    refused = act(ops_admin, "close_positions", record, positions=[base.pk, pyr2.pk], price="72500")
    assert refused.status_code == 200 and "has orders in flight at the broker" in refused.content.decode()
    # All or nothing: the base (closed first, before pyr2 was refused) is untouched too.
    assert Position.objects.get(pk=base.pk).status == "closing"
    pending.refresh_from_db()
    assert pending.status == "PENDING" and not CapitalTransaction.objects.filter(kind="TRADING_PNL").exists()

    assert act(ops_admin, "close_positions", record, positions=[base.pk], price="72500").status_code == 302
    pending.refresh_from_db()
    sent.refresh_from_db()
    assert (pending.status, sent.status) == ("CANCELLED", "SENT")
    assert Position.objects.get(pk=base.pk).status == "closed"
