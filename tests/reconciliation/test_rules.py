"""The pure reconciliation comparison (DESIGN §10), without a database or a broker."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from positions.broker.base import BrokerPosition
from positions.models import Position
from positions.services.planning import entry_legs
from positions.symbols import futures_symbol, option_symbol
from reconciliation.rules import (
    HeldPosition,
    InstrumentRef,
    classify,
    instrument_for,
    moved_keys,
    reconcile,
)

INSTRUMENTS = (
    InstrumentRef("BANK_NIFTY", "NFO", "BANKNIFTY"),
    InstrumentRef("GOLD_MINI", "MCX", "GOLDM"),
    InstrumentRef("SILVER_MINI", "MCX", "SILVERM"),
    InstrumentRef("COPPER", "MCX", "COPPER"),
)
GOLD = "GOLDM05FEB26FUT"
PE, CE = "BANKNIFTY24FEB2652000PE", "BANKNIFTY24FEB2652000CE"


def gold(pid, lots):
    return HeldPosition(pid, "GOLD_MINI", "MCX", lots, futures_symbol=GOLD)


def bank(pid, lots):
    return HeldPosition(pid, "BANK_NIFTY", "NFO", lots * 30, pe_symbol=PE, ce_symbol=CE)


def row(symbol, exchange, qty):
    return BrokerPosition(symbol=symbol, exchange=exchange, net_quantity=qty)


SHARED = [gold(1, 4), gold(2, 2), gold(3, 1), bank(4, 2), bank(5, 1)]
CONSISTENT = [row(GOLD, "MCX", 7), row(PE, "NFO", -90), row(CE, "NFO", 90)]


def by_symbol(comparison):
    return {item.symbol: item for item in comparison.items}


@pytest.mark.parametrize(("expected", "broker", "kind"), [
    (7, 7, "matched"), (7, 0, "orphaned"), (0, 5, "missing"), (7, 5, "mismatch"), (7, -7, "mismatch"),
    (-90, 90, "mismatch"), (-90, -90, "matched"),
])
def test_classify(expected, broker, kind):
    assert classify(expected=expected, broker=broker) == kind


def test_positions_sharing_a_contract_are_summed_and_all_match():
    result = reconcile(positions=SHARED, broker_positions=CONSISTENT, instruments=INSTRUMENTS)
    assert result.outcome == "matched" and not result.discrepancies
    items = by_symbol(result)
    assert (items[GOLD].expected, items[GOLD].position_ids) == (7, (1, 2, 3))
    assert (items[PE].expected, items[CE].expected) == (-90, 90)
    assert items[PE].position_ids == items[CE].position_ids == (4, 5)


def test_one_pyramid_missing_at_the_broker_is_one_mismatch_naming_every_position():
    book = [row(GOLD, "MCX", 5), row(PE, "NFO", -90), row(CE, "NFO", 90)]
    result = reconcile(positions=SHARED, broker_positions=book, instruments=INSTRUMENTS)
    assert [i.as_dict() for i in result.discrepancies] == [{
        "symbol": GOLD, "exchange": "MCX", "instrument": "GOLD_MINI", "expected": 7, "broker": 5,
        "kind": "mismatch", "position_ids": [1, 2, 3]}]


def test_flat_broker_is_orphaned_and_short_for_long_is_mismatch():
    result = reconcile(positions=SHARED, broker_positions=[row(GOLD, "MCX", -7)], instruments=INSTRUMENTS)
    kinds = {i.symbol: i.kind for i in result.discrepancies}
    assert kinds == {GOLD: "mismatch", PE: "orphaned", CE: "orphaned"}


def test_broker_only_symbols_are_missing_if_ours_and_other_symbols_otherwise():
    book = [*CONSISTENT, row("SILVERM27FEB26FUT", "MCX", 2), row("NIFTY30DEC2524000CE", "NFO", 75),
            row("RELIANCE", "NSE", 10), row("GOLDM05FEB26FUT", "NSE", 1)]
    result = reconcile(positions=SHARED, broker_positions=book, instruments=INSTRUMENTS)
    assert [(i.symbol, i.instrument, i.kind, i.position_ids) for i in result.discrepancies] == [
        ("SILVERM27FEB26FUT", "SILVER_MINI", "missing", ())]
    assert {o["symbol"] for o in result.other_symbols} == {"NIFTY30DEC2524000CE", "RELIANCE", "GOLDM05FEB26FUT"}


def test_rows_of_one_symbol_are_netted_across_products_and_flat_rows_ignored():
    book = [row(GOLD, "MCX", 5), BrokerPosition(GOLD, "MCX", 2, product="MIS"), row(PE, "NFO", -90),
            row(CE, "NFO", 90), row("COPPER31DEC25FUT", "MCX", 0)]
    result = reconcile(positions=SHARED, broker_positions=book, instruments=INSTRUMENTS)
    assert result.outcome == "matched" and "COPPER31DEC25FUT" not in by_symbol(result)


def test_symbols_in_flight_are_listed_not_judged():
    result = reconcile(positions=SHARED, broker_positions=[row(PE, "NFO", -90), row(CE, "NFO", 90)],
                       instruments=INSTRUMENTS, in_flight={(GOLD, "MCX")})
    assert result.outcome == "matched"
    assert [(i.symbol, i.expected, i.broker) for i in result.in_flight] == [(GOLD, 7, 0)]


def test_moved_keys_finds_symbols_whose_holdings_changed():
    before = [gold(1, 4), bank(4, 2)]
    after = [gold(1, 4), gold(2, 1), bank(4, 2)]
    assert moved_keys(before, after) == {(GOLD, "MCX")}
    assert moved_keys(after, after) == set()


def test_instrument_for_needs_root_and_exchange():
    assert instrument_for(GOLD, "MCX", INSTRUMENTS) == "GOLD_MINI"
    assert instrument_for(GOLD, "NFO", INSTRUMENTS) is None
    assert instrument_for("NIFTY30DEC2524000PE", "NFO", INSTRUMENTS) is None
    assert instrument_for("garbage", "MCX", INSTRUMENTS) is None


# ---------------------------------------------------------------------------- property

EXPIRIES = (date(2026, 2, 5), date(2026, 3, 5))
STRIKES = (51500, 52000, 52500)


@st.composite
def positions(draw):
    held = []
    for pid in range(1, draw(st.integers(0, 12)) + 1):
        lots = draw(st.integers(1, 40))
        expiry = draw(st.sampled_from(EXPIRIES))
        if draw(st.booleans()):
            root = draw(st.sampled_from([("GOLD_MINI", "GOLDM"), ("SILVER_MINI", "SILVERM"), ("COPPER", "COPPER")]))
            held.append(HeldPosition(pid, root[0], "MCX", lots, futures_symbol=futures_symbol(root=root[1],
                                                                                             expiry=expiry)))
        else:
            strike = draw(st.sampled_from(STRIKES))
            legs = {t: option_symbol(root="BANKNIFTY", expiry=expiry, strike=strike, option_type=t) for t in ("PE", "CE")}
            held.append(HeldPosition(pid, "BANK_NIFTY", "NFO", lots * 30, pe_symbol=legs["PE"], ce_symbol=legs["CE"]))
    return held


def implied_book(held: list[HeldPosition], split: bool) -> list[BrokerPosition]:
    """The broker's book after every entry order of ``held`` filled (sent as the executor sends them)."""
    book: dict[tuple[str, str], int] = defaultdict(int)
    for h in held:
        shape = Position(futures_symbol=h.futures_symbol, pe_symbol=h.pe_symbol, ce_symbol=h.ce_symbol)
        for _leg, symbol, action in entry_legs(shape):
            book[(symbol, h.exchange)] += h.quantity if action == "BUY" else -h.quantity
    rows = []
    for (symbol, exchange), qty in book.items():
        if split and abs(qty) > 1:  # some brokers report a symbol in several rows (products)
            rows += [row(symbol, exchange, qty // 2), row(symbol, exchange, qty - qty // 2)]
        else:
            rows.append(row(symbol, exchange, qty))
    return rows


@given(held=positions(), split=st.booleans(), others=st.lists(st.integers(1, 500), max_size=3))
def test_any_positions_against_the_book_they_imply_match(held, split, others):
    book = implied_book(held, split) + [row(f"NIFTY30DEC25{24000 + 50 * i}CE", "NFO", q) for i, q in enumerate(others)]
    result = reconcile(positions=held, broker_positions=list(reversed(book)), instruments=INSTRUMENTS)
    assert result.outcome == "matched"
    assert {i.kind for i in result.items} <= {"matched"}
    assert all(i.broker != 0 for i in result.items)  # every contract we hold was found
    assert len(result.other_symbols) == len({24000 + 50 * i for i in range(len(others))})
    assert sorted(pid for i in result.items for pid in i.position_ids if i.symbol.endswith(("FUT", "CE"))) == sorted(
        h.position_id for h in held)


@given(held=positions().filter(bool), data=st.data())
def test_changing_one_broker_row_gives_exactly_one_discrepancy(held, data):
    book = implied_book(held, split=False)
    index = data.draw(st.integers(0, len(book) - 1))
    delta = data.draw(st.integers(-50, 50).filter(bool))
    target = book[index]
    book[index] = row(target.symbol, target.exchange, target.net_quantity + delta)
    result = reconcile(positions=held, broker_positions=book, instruments=INSTRUMENTS)
    assert [i.symbol for i in result.discrepancies] == [target.symbol]
