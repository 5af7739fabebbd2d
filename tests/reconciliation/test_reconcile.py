"""The reconciliation service against real broker books: the paper broker's PaperPosition table and
the fake OpenAlgo server's positionbook, with several positions sharing one contract."""

from __future__ import annotations

from unittest import mock

import pytest

from core.models import OpsAuditLog
from positions.broker import BrokerUnavailable
from positions.models import IntentStatus, OrderIntent, Position
from reconciliation.models import Discrepancy, ReconciliationRun
from reconciliation.services.reconcile import reconciliation_run
from tests.factories import make_position
from tests.reconciliation.helpers import CE, CONSISTENT_BOOK, GOLD, PE, book, fill, shared_contracts  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts():
    with mock.patch("reconciliation.services.reconcile.alert") as sent:
        yield sent


def run(book, **kwargs):
    return reconciliation_run(trigger=kwargs.pop("trigger", "manual"), broker=book.broker, **kwargs)


def kinds(report):
    return {item["symbol"]: item["kind"] for item in report["items"] if item["kind"] != "matched"}


def test_consistent_book_matches_and_the_run_keeps_the_raw_snapshot(portfolio, book, alerts):
    ids = {k: p.pk for k, p in shared_contracts().items()}
    fill(book, CONSISTENT_BOOK)
    report = run(book, actor="ops")
    assert set(report) == {"run_id", "started_at", "outcome", "items", "other_symbols", "in_flight"}
    assert report["outcome"] == "matched" and report["other_symbols"] == [] and report["in_flight"] == []
    items = {item["symbol"]: item for item in report["items"]}
    assert items[GOLD] == {"symbol": GOLD, "exchange": "MCX", "instrument": "GOLD_MINI", "expected": 7, "broker": 7,
                           "kind": "matched",
                           "position_ids": sorted([ids["gold_base"], ids["gold_pyr1"], ids["gold_pyr2"]])}
    assert (items[PE]["expected"], items[CE]["expected"]) == (-90, 90)
    assert items[PE]["position_ids"] == sorted([ids["bank_base"], ids["bank_pyr"]])
    saved = ReconciliationRun.objects.get()
    assert (saved.pk, saved.outcome, saved.trigger, saved.requested_by) == (report["run_id"], "matched", "manual", "ops")
    assert saved.report == report and saved.started_at.isoformat() == report["started_at"]
    assert sorted((r["symbol"], r["net_quantity"]) for r in saved.broker_snapshot) == [(CE, 90), (PE, -90), (GOLD, 7)]
    assert not Discrepancy.objects.exists() and not alerts.called


def test_one_pyramid_gone_at_the_broker_is_one_mismatch_naming_all_three_positions(portfolio, book, alerts):
    ids = {k: p.pk for k, p in shared_contracts().items()}
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})  # the 2-lot pyramid was sold at the broker
    report = run(book)
    assert report["outcome"] == "discrepancies"
    bad = [item for item in report["items"] if item["kind"] != "matched"]
    gold_ids = sorted([ids["gold_base"], ids["gold_pyr1"], ids["gold_pyr2"]])
    assert bad == [{"symbol": GOLD, "exchange": "MCX", "instrument": "GOLD_MINI", "expected": 7, "broker": 5,
                    "kind": "mismatch", "position_ids": gold_ids}]
    record = Discrepancy.objects.get()
    assert (record.kind, record.symbol, record.expected_quantity, record.broker_quantity, record.position_ids,
            record.instrument_id, record.status) == ("mismatch", GOLD, 7, 5, gold_ids, "GOLD_MINI", "open")
    alerts.assert_called_once()
    assert alerts.call_args.args[0] == "reconciliation_mismatch" and alerts.call_args.kwargs["symbol"] == GOLD


def test_flat_broker_is_orphaned_everywhere(portfolio, book, alerts):
    shared_contracts()
    report = run(book)
    assert kinds(report) == {GOLD: "orphaned", PE: "orphaned", CE: "orphaned"}
    assert Discrepancy.objects.filter(kind="orphaned", status="open").count() == 3


def test_broker_only_contract_of_ours_is_missing_and_other_peoples_symbols_are_listed_apart(portfolio, book):
    shared_contracts()
    fill(book, {**CONSISTENT_BOOK, ("SILVERM27FEB26FUT", "MCX"): 2, ("NIFTY30DEC2524000CE", "NFO"): 75,
                ("RELIANCE", "NSE"): 10})
    report = run(book)
    assert kinds(report) == {"SILVERM27FEB26FUT": "missing"}
    missing = next(i for i in report["items"] if i["kind"] == "missing")
    assert (missing["instrument"], missing["expected"], missing["broker"], missing["position_ids"]) == (
        "SILVER_MINI", 0, 2, [])
    assert sorted(o["symbol"] for o in report["other_symbols"]) == ["NIFTY30DEC2524000CE", "RELIANCE"]
    assert list(Discrepancy.objects.values_list("symbol", flat=True)) == ["SILVERM27FEB26FUT"]


def test_a_short_where_we_expect_a_long_is_a_mismatch(portfolio, book):
    shared_contracts()
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): -7})
    report = run(book)
    assert kinds(report) == {GOLD: "mismatch"}
    assert Discrepancy.objects.get().broker_quantity == -7


def test_repeated_runs_keep_one_record_per_disagreement_and_clear_it_when_matched_again(portfolio, book, alerts):
    shared_contracts()
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    first = run(book)
    second = run(book, trigger="periodic")
    record = Discrepancy.objects.get()
    assert (record.run_id, record.last_seen_run_id) == (first["run_id"], second["run_id"])
    assert alerts.call_count == 1  # a known disagreement is not alerted again every hour

    book.set(GOLD, "MCX", 4)  # it got worse: a different disagreement supersedes the record
    third = run(book)
    old, new = Discrepancy.objects.order_by("id")
    assert (old.status, old.resolved_by) == ("resolved", "system") and "superseded" in old.resolution_note
    assert (new.status, new.broker_quantity, new.run_id) == ("open", 4, third["run_id"])

    book.set(GOLD, "MCX", 7)
    fourth = run(book)
    new.refresh_from_db()
    assert fourth["outcome"] == "matched"
    assert (new.status, new.resolved_by) == ("resolved", "system")
    assert f"run #{fourth['run_id']}" in new.resolution_note
    assert list(OpsAuditLog.objects.order_by("id").values_list("actor", "action")) == [
        ("system", "discrepancy_superseded"), ("system", "discrepancy_auto_resolved")]
    assert Discrepancy.objects.filter(status="open").count() == 0


def test_an_acknowledged_discrepancy_stays_acknowledged_while_unchanged(portfolio, book):
    shared_contracts()
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    run(book)
    Discrepancy.objects.update(status="acknowledged")
    run(book)
    assert list(Discrepancy.objects.values_list("status", flat=True)) == ["acknowledged"]


def test_broker_unreadable_is_recorded_and_alerted_and_changes_no_discrepancy(portfolio, book, alerts):
    shared_contracts()
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    run(book)
    with mock.patch.object(type(book.broker), "positions", side_effect=BrokerUnavailable("positionbook: HTTP 500")):
        report = run(book)
    assert report["outcome"] == "broker_unavailable" and report["items"] == []
    assert "HTTP 500" in report["error"]
    saved = ReconciliationRun.objects.get(pk=report["run_id"])
    assert saved.outcome == "broker_unavailable" and saved.report == report
    assert alerts.call_args.args[0] == "broker_unreachable"
    assert Discrepancy.objects.get().status == "open"  # nothing can be concluded from an unread broker


def test_openalgo_positionbook_failures_are_broker_unavailable(portfolio):
    from tests.fakes.openalgo_server import FakeOpenAlgo
    from tests.reconciliation.helpers import OpenAlgoBook

    with FakeOpenAlgo(api_key="test-key") as server:
        server.set_fault("positionbook", "http_500", count=None)
        adapter = OpenAlgoBook(server)
        report = run(adapter)
        adapter.broker.close()
    assert report["outcome"] == "broker_unavailable"


def test_dry_run_records_nothing(portfolio, book, alerts):
    shared_contracts()
    report = run(book, dry_run=True)
    assert report["run_id"] is None and report["outcome"] == "discrepancies"
    assert not ReconciliationRun.objects.exists() and not Discrepancy.objects.exists() and not alerts.called
    with mock.patch.object(type(book.broker), "positions", side_effect=BrokerUnavailable("down")):
        assert run(book, dry_run=True)["outcome"] == "broker_unavailable"
    assert not ReconciliationRun.objects.exists()


def test_symbols_with_work_in_flight_are_not_judged(portfolio, book):
    ids = {k: p.pk for k, p in shared_contracts().items()}
    fill(book, {**CONSISTENT_BOOK, (GOLD, "MCX"): 4})  # the pyramids' exit filled; booking not done yet
    Position.objects.filter(pk__in=[ids["gold_pyr1"], ids["gold_pyr2"]]).update(status="closing")
    for pid, lots in ((ids["gold_pyr1"], 2), (ids["gold_pyr2"], 1)):
        OrderIntent.objects.create(client_order_id=f"pm-{pid}-ex-FUT-1", position_id=pid, purpose="exit", leg="FUT",
                                   sequence=1, symbol=GOLD, exchange="MCX", action="SELL", quantity=lots,
                                   status=IntentStatus.FILLED, fill_price=72500, filled_quantity=lots)
    report = run(book)
    assert report["outcome"] == "matched" and GOLD not in {i["symbol"] for i in report["items"]}
    assert [(i["symbol"], i["expected"], i["broker"]) for i in report["in_flight"]] == [(GOLD, 7, 4)]
    assert not Discrepancy.objects.exists()


def test_an_unresolved_order_puts_its_symbol_in_flight(portfolio, book):
    position = make_position("GOLD_MINI", 1, status="opening", lots=3)
    OrderIntent.objects.create(client_order_id=f"pm-{position.pk}-en-FUT-1", position=position, purpose="entry",
                               leg="FUT", sequence=1, symbol=GOLD, exchange="MCX", action="BUY", quantity=3,
                               status=IntentStatus.UNKNOWN)
    book.set(GOLD, "MCX", 3)  # the order did fill; we do not know yet
    report = run(book)
    assert report["outcome"] == "matched" and report["in_flight"][0]["symbol"] == GOLD
    assert not Discrepancy.objects.exists()


def test_a_fill_booked_while_the_broker_is_read_is_not_a_false_discrepancy(portfolio, book):
    shared_contracts()
    fill(book, CONSISTENT_BOOK)
    read = book.broker.positions

    def read_then_book_a_pyramid():
        rows = read()  # the broker's answer predates the new pyramid ...
        make_position("GOLD_MINI", 4, lots=1, price="73600")  # ... which fills and is booked meanwhile
        return rows

    with mock.patch.object(book.broker, "positions", read_then_book_a_pyramid):
        report = run(book)
    assert report["outcome"] == "matched"
    assert [(i["symbol"], i["expected"], i["broker"]) for i in report["in_flight"]] == [(GOLD, 8, 7)]
    assert not Discrepancy.objects.exists()
