"""``manage.py import_legacy`` against a legacy database built from the legacy schema (conftest)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
from django.core.management import call_command
from django.db.models import Sum

from portfolio.models import CapitalTransaction, PortfolioState
from positions.broker.factory import set_broker_override
from positions.broker.openalgo import OpenAlgoBroker
from positions.models import PaperOrder, PaperPosition, Position, PyramidingState
from reconciliation.models import Discrepancy, ReconciliationRun
from signals.models import SignalLog
from tests.conftest import money, seed_instruments
from tests.factories import make_position
from tests.fakes.openalgo_server import FakeOpenAlgo

pytestmark = pytest.mark.django_db

GOLD, PE, CE = "GOLDM05JAN27FUT", "BANKNIFTY29DEC2659500PE", "BANKNIFTY29DEC2659500CE"
# What the broker holds for the legacy books: Gold 4 + 2 + 1 lots, Bank Nifty 2 + 1 lots × 30 a leg.
LEGACY_BOOK = {(GOLD, "MCX"): 7, (PE, "NFO"): -90, (CE, "NFO"): 90}


@pytest.fixture
def instruments(db):
    seed_instruments()


@pytest.fixture
def paper_book(instruments):
    for (symbol, exchange), quantity in LEGACY_BOOK.items():
        PaperPosition.objects.create(symbol=symbol, exchange=exchange, net_quantity=quantity)


def run(*args: str, capsys) -> tuple[int, str]:
    try:
        call_command("import_legacy", *args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


def counts() -> tuple[int, ...]:
    return (Position.objects.count(), CapitalTransaction.objects.count(), SignalLog.objects.count(),
            PyramidingState.objects.count(), PortfolioState.objects.count(), ReconciliationRun.objects.count())


def test_import_carries_the_legacy_books_over_and_the_broker_matches(legacy_db, paper_book, capsys):
    code, out = run("--from", legacy_db.url, capsys=capsys)
    assert code == 0, out
    assert "IMPORTED in one transaction: 5 position(s), an opening balance, 2 pyramiding state(s), 4 signal(s)" in out

    positions = {p.label: p for p in Position.objects.all()}
    assert set(positions) == {"BANK_NIFTY_Long_1", "BANK_NIFTY_Long_2", "GOLD_MINI_Long_1", "GOLD_MINI_Long_2",
                              "GOLD_MINI_Long_3"}
    assert {p.status for p in positions.values()} == {"open"}
    rows = {label: (p.layer, p.is_base_position, p.lots, p.quantity, p.entry_price, p.initial_stop, p.current_stop,
                    p.highest_close, p.entry_atr, p.expiry) for label, p in positions.items()}
    assert rows == {
        # Bank Nifty: entry = strike + CE − PE from the stored legs (the legacy futures price is the signal price).
        "BANK_NIFTY_Long_1": (1, True, 2, 60, D("59485.75"), D("58955"), D("59210.50"), D("60120"), D("350"),
                              date(2026, 12, 29)),
        "BANK_NIFTY_Long_2": (2, False, 1, 30, D("60009.65"), D("59485"), D("59485"), D("60120"), D("350"),
                              date(2026, 12, 29)),
        "GOLD_MINI_Long_1": (1, True, 4, 4, D("136891.67"), D("135450"), D("137220"), D("139300"), D("1450"),
                             date(2027, 1, 5)),
        "GOLD_MINI_Long_2": (2, False, 2, 2, D("138450"), D("136950"), D("137600"), D("139300"), D("1500"),
                             date(2027, 1, 5)),
        "GOLD_MINI_Long_3": (3, False, 1, 1, D("139420"), D("137900"), D("137900"), D("139420"), D("1520"),
                             date(2027, 1, 5)),
    }
    bank = positions["BANK_NIFTY_Long_1"]
    assert (bank.signal_price, bank.strike, bank.pe_symbol, bank.ce_symbol) == (D("59480"), 59500, PE, CE)
    assert (bank.pe_entry_price, bank.ce_entry_price) == (D("412.35"), D("398.10"))
    assert {p.futures_symbol for label, p in positions.items() if label.startswith("GOLD")} == {GOLD}
    # The reused natural key: only the open campaign's row is ours, marked with its entry time.
    assert positions["GOLD_MINI_Long_1"].legacy_key == "GOLD_MINI_Long_1@2026-11-09T11:00:00"
    assert positions["GOLD_MINI_Long_1"].opened_at.isoformat() == "2026-11-09T05:30:00+00:00"

    state = PortfolioState.objects.get()
    assert (state.initial_capital, state.closed_equity, state.equity_high) == (
        money("10000000"), money("9993400.50"), money("10184500"))
    [opening] = CapitalTransaction.objects.all()
    assert (opening.kind, opening.amount, opening.equity_after, opening.equity_high_after) == (
        "OPENING_BALANCE", money("9993400.50"), money("9993400.50"), money("10184500"))
    assert CapitalTransaction.objects.aggregate(total=Sum("amount"))["total"] == state.closed_equity
    assert "DEPOSIT ×2 = 10000000.00, TRADING_PNL ×4 = 193400.50, WITHDRAW ×1 = -200000.00" in opening.note
    assert state.margin_used == 2 * 270000 + 270000 + 7 * 105000  # exposure refreshed for the imported books

    pyramiding = {p.instrument_id: p for p in PyramidingState.objects.select_related("base_position")}
    assert (pyramiding["BANK_NIFTY"].base_position, pyramiding["BANK_NIFTY"].last_pyramid_price) == (
        bank, D("60010"))
    assert (pyramiding["GOLD_MINI"].base_position, pyramiding["GOLD_MINI"].last_pyramid_price) == (
        positions["GOLD_MINI_Long_1"], D("139420"))

    seen = SignalLog.objects.order_by("signal_timestamp")
    assert [(s.instrument_id, s.signal_type, s.position) for s in seen] == [
        ("SILVER_MINI", "BASE_ENTRY", "Long_1"), ("SILVER_MINI", "EXIT", "ALL"), ("GOLD_MINI", "PYRAMID", "Long_4"),
        ("BANK_NIFTY", "PYRAMID", "Long_3")]
    assert {(s.status, s.reason) for s in seen} == {("ignored", "legacy_import")}

    run_ = ReconciliationRun.objects.get()
    assert run_.outcome == "matched" and not Discrepancy.objects.exists()
    assert "Reconciliation against the configured broker" in out and ": MATCHED" in out


def test_a_second_import_changes_nothing_and_says_so(legacy_db, paper_book, capsys):
    assert run("--from", legacy_db.url, capsys=capsys)[0] == 0
    before = list(Position.objects.order_by("id").values_list("id", "version", "updated_at"))
    ledger = list(CapitalTransaction.objects.values_list("id", "amount"))
    state = PortfolioState.objects.values_list("version", flat=True).get()
    code, out = run("--from", legacy_db.url, capsys=capsys)
    assert code == 0, out
    assert "NOTHING TO DO" in out and "Already imported, left as they are (5)" in out
    assert "(to book)" not in out and "already booked" in out
    assert list(Position.objects.order_by("id").values_list("id", "version", "updated_at")) == before
    assert list(CapitalTransaction.objects.values_list("id", "amount")) == ledger
    assert SignalLog.objects.count() == 4 and PyramidingState.objects.count() == 2
    assert PortfolioState.objects.values_list("version", flat=True).get() == state


def test_dry_run_prints_the_plan_and_writes_nothing(legacy_db, paper_book, capsys):
    code, out = run("--from", legacy_db.url, "--dry-run", capsys=capsys)
    assert code == 0, out
    assert counts() == (0, 0, 0, 0, 0, 0)
    assert "DRY RUN: 12 change(s) would be written; nothing was." in out
    assert "(read in a read-only transaction: yes)" in out
    for label in ("BANK_NIFTY_Long_1", "BANK_NIFTY_Long_2", "GOLD_MINI_Long_1", "GOLD_MINI_Long_2", "GOLD_MINI_Long_3"):
        assert label in out
    assert "legacy bug #30" in out and "legacy bug #42" in out and "status partial" in out
    assert "Reconciliation preview" in out and ": MATCHED" in out
    code, out = run("--from", legacy_db.url, "--dry-run", "--json", capsys=capsys)
    report = json.loads(out)
    assert (report["outcome"], report["plan"]["changes"], report["reconciliation"]["outcome"]) == (
        "dry_run", 12, "matched")
    assert counts() == (0, 0, 0, 0, 0, 0)


def test_a_corrupt_row_is_reported_and_nothing_is_imported(legacy_db, paper_book, capsys):
    legacy_db.execute("UPDATE portfolio_positions SET expiry = 'NEXTMONTH' WHERE position_id = 'GOLD_MINI_Long_1'")
    legacy_db.execute("UPDATE portfolio_positions SET lots = 0 WHERE position_id = 'BANK_NIFTY_Long_2'")
    code, out = run("--from", legacy_db.url, capsys=capsys)
    assert code == 1
    assert "cannot be mapped (2) — NOTHING is imported" in out
    assert "portfolio_positions GOLD_MINI_Long_1: expiry 'NEXTMONTH' is in no format" in out
    assert "portfolio_positions BANK_NIFTY_Long_2: lots 0 must be a number above 0" in out
    assert "NOT IMPORTED" in out
    assert counts() == (0, 0, 0, 0, 0, 0)  # not even the three good positions, the equity or the signals
    code, out = run("--from", legacy_db.url, "--json", capsys=capsys)
    assert code == 1 and {e["id"] for e in json.loads(out)["plan"]["errors"]} == {"GOLD_MINI_Long_1",
                                                                                   "BANK_NIFTY_Long_2"}


def test_a_database_that_already_trades_is_refused_unless_told(legacy_db, paper_book, capsys):
    own = make_position("COPPER", 1, lots=1, futures_symbol="COPPER31DEC26FUT")
    code, out = run("--from", legacy_db.url, capsys=capsys)
    assert code == 1 and "REFUSED: this database already trades" in out and f"COPPER_Long_1 #{own.pk}" in out
    assert Position.objects.count() == 1 and not CapitalTransaction.objects.exists()
    code, out = run("--from", legacy_db.url, "--into-trading-database", capsys=capsys)
    assert "IMPORTED" in out and Position.objects.count() == 6
    assert code == 3  # the broker holds no copper: the reconciliation does not match
    assert Discrepancy.objects.get().symbol == "COPPER31DEC26FUT"


def test_a_layer_our_books_hold_already_is_an_error(legacy_db, paper_book, capsys):
    make_position("GOLD_MINI", 2, lots=1)
    code, out = run("--from", legacy_db.url, "--into-trading-database", capsys=capsys)
    assert code == 1 and "portfolio_positions GOLD_MINI_Long_2: our GOLD_MINI_Long_2" in out
    assert Position.objects.count() == 1


def test_a_portfolio_opened_by_init_portfolio_ends_at_the_legacy_equity(legacy_db, portfolio, paper_book, capsys):
    assert run("--from", legacy_db.url, capsys=capsys)[0] == 0
    state = PortfolioState.objects.get()
    assert (state.closed_equity, state.equity_high) == (money("9993400.50"), money("10184500"))
    assert list(CapitalTransaction.objects.order_by("id").values_list("kind", "amount")) == [
        ("DEPOSIT", money("5000000")), ("OPENING_BALANCE", money("4993400.50"))]


def test_the_reconciliation_runs_against_the_fake_openalgo_book_too(legacy_db, instruments, capsys):
    with FakeOpenAlgo(api_key="test-key", sessions=False) as fake:
        for (symbol, exchange), quantity in LEGACY_BOOK.items():
            fake.set_position(symbol, exchange, quantity, "100")
        broker = OpenAlgoBroker(base_url=fake.url, api_key="test-key", retry_backoff=0.01, read_retries=1,
                                timeout=httpx.Timeout(2.0, connect=0.5))
        set_broker_override(broker)
        try:
            code, out = run("--from", legacy_db.url, "--json", capsys=capsys)
        finally:
            broker.close()
    report = json.loads(out)
    assert code == 0 and report["outcome"] == "imported"
    assert report["reconciliation"]["outcome"] == "matched"
    assert {(i["symbol"], i["expected"], i["broker"]) for i in report["reconciliation"]["items"]} == {
        (GOLD, 7, 7), (PE, -90, -90), (CE, 90, 90)}


def test_a_shadow_instance_seeds_its_paper_book_and_reconciles(legacy_db, instruments, capsys):
    code, out = run("--from", legacy_db.url, "--seed-paper-book", capsys=capsys)
    assert code == 0, out
    book = {(p.symbol, p.exchange): (p.net_quantity, p.average_price) for p in PaperPosition.objects.all()}
    # Average prices weighted by quantity: Gold 4 @ 136891.67, 2 @ 138450, 1 @ 139420; the legs 60 + 30 units.
    assert book == {(GOLD, "MCX"): (7, D("137698.0971")), (PE, "NFO"): (-90, D("335.0833")),
                    (CE, "NFO"): (90, D("495.4667"))}
    assert "Paper book seeded: BUY 7 GOLDM05JAN27FUT @ 137698.0971" in out and ": MATCHED" in out
    orders = PaperOrder.objects.count()
    code, out = run("--from", legacy_db.url, "--seed-paper-book", capsys=capsys)
    assert code == 0 and "NOTHING TO DO" in out and PaperOrder.objects.count() == orders


def test_seeding_is_refused_for_any_broker_but_paper(legacy_db, instruments, settings):
    from django.core.management.base import CommandError

    from legacy.services import paper_book_seed

    with pytest.raises(ValueError, match="needs BROKER=paper"):
        paper_book_seed(broker=object())
    settings.PM_BROKER = "openalgo"
    with pytest.raises(CommandError, match="BROKER=paper only"):
        call_command("import_legacy", "--from", legacy_db.url, "--seed-paper-book")
    assert counts() == (0, 0, 0, 0, 0, 0)


def test_a_resent_legacy_alert_is_answered_duplicate(legacy_db, paper_book, webhook, capsys):
    assert run("--from", legacy_db.url, capsys=capsys)[0] == 0
    resends = legacy_db.execute("SELECT id, payload FROM signal_log WHERE processing_status = 'blocked' ORDER BY id")
    assert len(resends) == 2  # the naive IST one and the V7 one whose 'Z' the column dropped
    for _legacy_id, payload in resends:
        response = webhook.post(payload)
        assert response.status_code == 200, response.content
        first = SignalLog.objects.get(pk=response.json()["signal_id"])
        assert (response.json()["status"], first.reason) == ("duplicate", "legacy_import")
        assert first.duplicate_count == 1
    assert SignalLog.objects.count() == 4  # nothing new was accepted, nothing executes


def test_the_signal_window_is_a_parameter(legacy_db, paper_book, capsys):
    assert run("--from", legacy_db.url, "--signal-days", "3650", capsys=capsys)[0] == 0
    assert SignalLog.objects.count() == 9
    # Both campaigns of the re-used natural key GOLD_MINI_Long_1 are distinct signals here.
    assert SignalLog.objects.filter(instrument="GOLD_MINI", signal_type="BASE_ENTRY", position="Long_1").count() == 2


def test_an_unreadable_legacy_database_exits_2(instruments, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("import_legacy", "--from", "postgres://postgres:postgres@127.0.0.1:5432/test_legacy_absent")
    assert exit_.value.code == 2 and "cannot connect to the legacy database" in capsys.readouterr().err
    assert counts() == (0, 0, 0, 0, 0, 0)


def test_the_legacy_database_is_read_in_a_read_only_transaction(legacy_db):
    from legacy.source import LegacyUnavailable, _read_only

    with pytest.raises(LegacyUnavailable, match="read-only transaction"), _read_only(legacy_db.url) as conn:
        conn.execute("DELETE FROM signal_log")
    assert legacy_db.execute("SELECT count(*) FROM signal_log") == [(9,)]


def test_our_own_database_is_never_a_source(instruments):
    from django.core.management.base import CommandError
    from django.db import connection

    db = connection.settings_dict
    with pytest.raises(CommandError, match="own database"):
        call_command("import_legacy", "--from", f"postgres://u:p@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}")


def D(value: str) -> Decimal:
    return Decimal(value)
