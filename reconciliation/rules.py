"""Broker reconciliation as a pure comparison (DESIGN §10).  No database, no broker: plain values in,
plain values out, so every rule here is tested without I/O.

Our side is the signed net quantity each contract *should* have at the broker, summed over every
position that holds it (domain bug #8 / ha-notes A4.1: several layers share one symbol, so keying by
symbol → one position is wrong).  A futures position holds ``+quantity`` lots of its contract; a Bank
Nifty long synthetic holds ``-quantity`` units of its PE and ``+quantity`` units of its CE (signed,
so a short where we expect a long is a mismatch, never a "match" on absolute values).

The broker side is its net position rows, summed per (symbol, exchange) (a broker may report one row
per product).  A row is *ours* when its symbol parses and its root and exchange belong to one of our
instruments; anything else (NIFTY options, RELIANCE, ...) is listed in ``other_symbols`` and never
reported as missing (domain bug #12).

Symbols with work in flight (orders not yet resolved, fills not yet booked, books that changed while
we read the broker) are not judged: they are listed in ``in_flight`` with both quantities, and the
next run compares them once the work has settled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from positions.broker.base import BrokerPosition
from positions.symbols import parse_symbol

MATCHED, ORPHANED, MISSING, MISMATCH = "matched", "orphaned", "missing", "mismatch"
OUTCOME_MATCHED, OUTCOME_DISCREPANCIES = "matched", "discrepancies"

Key = tuple[str, str]  # (symbol, exchange)


@dataclass(frozen=True, slots=True)
class InstrumentRef:
    code: str
    exchange: str
    symbol_root: str


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """One of our positions that holds its contract at the broker (status open or closing)."""

    position_id: int
    instrument: str
    exchange: str
    quantity: int  # broker quantity on each leg (MCX: lots; Bank Nifty: units)
    futures_symbol: str = ""
    pe_symbol: str = ""
    ce_symbol: str = ""

    def legs(self) -> tuple[tuple[Key, int], ...]:
        """((symbol, exchange), signed quantity) per leg: long futures +, long synthetic = −PE +CE."""
        if self.futures_symbol:
            return (((self.futures_symbol, self.exchange), self.quantity),)
        return (((self.pe_symbol, self.exchange), -self.quantity), ((self.ce_symbol, self.exchange), self.quantity))


@dataclass(frozen=True, slots=True)
class Item:
    symbol: str
    exchange: str
    instrument: str | None
    expected: int
    broker: int
    kind: str
    position_ids: tuple[int, ...]

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "exchange": self.exchange, "instrument": self.instrument,
                "expected": self.expected, "broker": self.broker, "kind": self.kind,
                "position_ids": list(self.position_ids)}


@dataclass(frozen=True, slots=True)
class Comparison:
    items: tuple[Item, ...]  # every symbol judged, matched ones included
    other_symbols: tuple[dict, ...]  # broker rows that are not ours: {"symbol", "exchange", "broker"}
    in_flight: tuple[Item, ...]  # not judged this run (kind says what it would have been)

    @property
    def discrepancies(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.kind != MATCHED)

    @property
    def outcome(self) -> str:
        return OUTCOME_DISCREPANCIES if self.discrepancies else OUTCOME_MATCHED


def classify(*, expected: int, broker: int) -> str:
    if expected == broker:
        return MATCHED
    if broker == 0:
        return ORPHANED
    if expected == 0:
        return MISSING
    return MISMATCH  # both non-zero and different, including opposite signs


def instrument_for(symbol: str, exchange: str, instruments: Iterable[InstrumentRef]) -> str | None:
    """The instrument a broker symbol belongs to, or None when it is not one of ours."""
    try:
        root = parse_symbol(symbol).root
    except ValueError:
        return None
    for ref in instruments:
        if ref.symbol_root == root and ref.exchange == exchange:
            return ref.code
    return None


def expected_book(positions: Iterable[HeldPosition]) -> dict[Key, tuple[int, str, tuple[int, ...]]]:
    """(symbol, exchange) → (signed expected quantity, instrument, sorted position ids)."""
    quantity: dict[Key, int] = defaultdict(int)
    owners: dict[Key, set[int]] = defaultdict(set)
    instrument: dict[Key, str] = {}
    for position in positions:
        for key, signed in position.legs():
            quantity[key] += signed
            owners[key].add(position.position_id)
            instrument[key] = position.instrument
    return {key: (quantity[key], instrument[key], tuple(sorted(owners[key]))) for key in quantity}


def broker_book(rows: Iterable[BrokerPosition]) -> dict[Key, int]:
    """Net signed quantity per (symbol, exchange); flat rows are dropped."""
    book: dict[Key, int] = defaultdict(int)
    for row in rows:
        book[(row.symbol.strip().upper(), row.exchange.strip().upper())] += int(row.net_quantity)
    return {key: qty for key, qty in book.items() if qty != 0}


def book_signatures(positions: Iterable[HeldPosition]) -> dict[Key, frozenset[tuple[int, int]]]:
    """Per symbol, which positions hold how much: equal signatures mean the books did not move."""
    signature: dict[Key, set[tuple[int, int]]] = defaultdict(set)
    for position in positions:
        for key, signed in position.legs():
            signature[key].add((position.position_id, signed))
    return {key: frozenset(value) for key, value in signature.items()}


def moved_keys(before: Iterable[HeldPosition], after: Iterable[HeldPosition]) -> set[Key]:
    """Symbols whose holdings changed between two reads of our books (a fill booked meanwhile)."""
    first, second = book_signatures(before), book_signatures(after)
    return {key for key in first.keys() | second.keys() if first.get(key) != second.get(key)}


def reconcile(
    *,
    positions: Iterable[HeldPosition],
    broker_positions: Iterable[BrokerPosition],
    instruments: Iterable[InstrumentRef],
    in_flight: Collection[Key] = (),
) -> Comparison:
    instruments = tuple(instruments)
    expected = expected_book(positions)
    held = broker_book(broker_positions)
    busy = set(in_flight)
    items, pending, others = [], [], []
    for key in sorted(expected.keys() | held.keys() | busy, key=lambda k: (k[1], k[0])):
        symbol, exchange = key
        quantity, instrument, owners = expected.get(key, (0, None, ()))
        at_broker = held.get(key, 0)
        if instrument is None:
            instrument = instrument_for(symbol, exchange, instruments)
        if instrument is None and key not in busy:
            others.append({"symbol": symbol, "exchange": exchange, "broker": at_broker})
            continue
        item = Item(symbol, exchange, instrument, quantity, at_broker, classify(expected=quantity, broker=at_broker),
                    owners)
        (pending if key in busy else items).append(item)
    return Comparison(tuple(items), tuple(others), tuple(pending))
