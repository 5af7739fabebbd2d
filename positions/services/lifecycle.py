"""Every write of a ``Position`` (and of its instrument's ``PyramidingState``): the one owner of the
position state machine.

    (new) ──create──► opening ──open──► open ──exit_start──► closing ──close──► closed
                         │                ▲                     │
                         └──fail_entry──► failed                └──exit_revert──► open
    (new) ──import──► open                open ──close (ops price)──► closed
    open ──roll_closed (old contract's P&L booked)──► open ──roll_opened (new contract held)──► open

Each function is one transaction that takes the instrument lock, then the portfolio row, then the
position row (always in that order, so writers never deadlock), and is idempotent where a caller may
retry: opening an open position or closing a closed one changes nothing.  Every change goes through
``_write``, which bumps ``version``.  Money moves only through the ledger service, so a closed
position's P&L is booked exactly once (the ledger's unique TRADING_PNL per position enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.locks import instrument_lock
from portfolio.models import PortfolioState, TransactionKind
from portfolio.services import (
    ledger_post,
    locked_state,
    portfolio_totals_refresh,
    statistics_bump,
    statistics_record_trade,
)
from positions.models import Leg, Position, PositionStatus, PyramidingState
from positions.pnl import futures_pnl, synthetic_pnl, synthetic_price, unrealized_pnl
from positions.selectors import portfolio_exposure
from positions.stops import stop_hit, trail_stop

STOP_HIT = "PM_STOP_HIT"
CENT = Decimal("0.01")
HOLDING = (PositionStatus.OPEN, PositionStatus.CLOSING)


def position_lock(position_id: int, *, instrument: str | None = None) -> tuple[Position, PortfolioState]:
    """Lock, in the order every writer uses: the instrument, the portfolio row, the position row.
    ``instrument``: the position's instrument when the caller knows it (it never changes)."""
    code = instrument or Position.objects.values_list("instrument_id", flat=True).get(pk=position_id)
    instrument_lock(code)
    state = locked_state()
    position = Position.objects.select_for_update().select_related("instrument").get(pk=position_id)
    return position, state


def _write(position: Position, *, expect: tuple[str, ...] | None = None, refresh: bool = True, **fields) -> bool:
    """The one place a position row changes (and ``version`` with it).  With ``expect``, only if the
    row is still in one of those statuses.  ``position`` is refreshed either way — or, with
    ``refresh=False`` (the caller holds the row locked, so nothing else can have changed it, and
    passes plain values), updated in memory without reading the row back."""
    rows = Position.objects.filter(pk=position.pk)
    if expect is not None:
        rows = rows.filter(status__in=expect)
    now = timezone.now()
    changed = rows.update(version=F("version") + 1, updated_at=now, **fields) == 1
    if refresh or not changed:
        position.refresh_from_db()
    else:
        for name, value in fields.items():
            setattr(position, name, _as_stored(name, value))
        position.version, position.updated_at = position.version + 1, now
    return changed


def _as_stored(name: str, value):
    """What the database holds after writing ``value`` to the field: numeric columns round to their
    scale (PostgreSQL rounds half away from zero)."""
    field = Position._meta.get_field(name)
    if isinstance(value, Decimal) and getattr(field, "decimal_places", None) is not None:
        return value.quantize(Decimal(1).scaleb(-field.decimal_places), rounding=ROUND_HALF_UP)
    return value


def _refresh_totals(state: PortfolioState) -> None:
    portfolio_totals_refresh(state=state, exposure=portfolio_exposure())


def _pyramiding_locked(instrument: str) -> PyramidingState:
    state = PyramidingState.objects.select_for_update().filter(instrument_id=instrument).first()
    if state is not None:
        return state
    PyramidingState.objects.get_or_create(instrument_id=instrument)  # the first entry of an instrument
    return PyramidingState.objects.select_for_update().get(instrument_id=instrument)


def _pyramiding_update(instrument: str, **fields) -> None:
    # The UPDATE locks the row itself; only an instrument that never had a state needs creating first.
    if not PyramidingState.objects.filter(instrument_id=instrument).update(updated_at=timezone.now(), **fields):
        _pyramiding_locked(instrument)
        PyramidingState.objects.filter(instrument_id=instrument).update(updated_at=timezone.now(), **fields)


def position_create(**values) -> Position:
    """A new position row (``opening`` for a decided entry, ``open`` for an import).  The caller holds
    the instrument lock; the database allows one live position per instrument layer."""
    return Position.objects.create(**values)


@transaction.atomic
def position_open(*, position_id: int, quantity: int, prices: dict[str, Decimal],
                  instrument: str | None = None) -> Position:
    """The entry settled holding ``quantity`` per leg (all it asked for, or the part that filled), at
    the legs' volume-weighted fills (Bank Nifty: strike + CE − PE)."""
    position, state = position_lock(position_id, instrument=instrument)
    if position.status != PositionStatus.OPENING:
        return position
    fields = {"status": PositionStatus.OPEN, "opened_at": timezone.now(), "quantity": quantity,
              "lots": quantity // position.instrument.order_quantity_per_lot, **_settled()}
    if position.futures_symbol:
        fields["entry_price"] = prices[Leg.FUT]
    else:
        fields.update(pe_entry_price=prices[Leg.PE], ce_entry_price=prices[Leg.CE],
                      entry_price=synthetic_price(strike=position.strike, ce_price=prices[Leg.CE],
                                                  pe_price=prices[Leg.PE]))
    _write(position, refresh=False, **fields)  # the row is locked: what we wrote is what it holds
    pyramiding = {"last_pyramid_price": position.signal_price}
    if position.is_base_position:
        pyramiding["base_position"] = position
    _pyramiding_update(position.instrument_id, **pyramiding)
    statistics_bump(**{"base_entries" if position.is_base_position else "pyramid_entries": 1})
    _refresh_totals(state)
    return position


@transaction.atomic
def position_fail_entry(*, position_id: int, note: str, unwind_pnl: Decimal = Decimal("0")) -> Position:
    """The entry holds nothing (it never filled, or what filled was sold back): the layer is free again.
    Money made or lost unwinding a filled leg is booked once, on this position."""
    position, state = position_lock(position_id)
    if _write(position, expect=(PositionStatus.OPENING,), status=PositionStatus.FAILED,
              exit_reason=f"entry failed: {note}"[:100], **_settled()):
        if unwind_pnl:
            ledger_post(state=state, kind=TransactionKind.TRADING_PNL, amount=unwind_pnl.quantize(CENT),
                        actor="system", position=position, note=f"{position.label} entry unwound"[:200])
        _refresh_totals(state)
    return position


def position_exit_start(*, position: Position, reason: str, signal=None) -> bool:
    """``open → closing`` by a conditional update, before any exit order exists.  False (and nothing
    written) when the position is no longer open: a TradingView EXIT and a stop exit for the same
    position can never both sell.  Runs in the caller's transaction (with its exit intents)."""
    # The caller read the position under the instrument lock, which every writer of a position takes
    # first: if the row was still open, it held what the caller read, and now what we wrote.
    return _write(position, expect=(PositionStatus.OPEN,), refresh=False, status=PositionStatus.CLOSING,
                  exit_reason=reason[:100], exit_signal=signal)


@transaction.atomic
def position_exit_revert(*, position_id: int) -> Position:
    """The exit was abandoned before any order left (its signal goes back to the queue): still open."""
    position, _state = position_lock(position_id)
    _write(position, expect=(PositionStatus.CLOSING,), status=PositionStatus.OPEN, exit_reason="", exit_signal=None,
           **_settled())
    return position


@transaction.atomic
def position_retry_note(*, position_id: int, retry_at, error: str, attempt: bool = False) -> Position:
    """An order of the position failed: when the next attempt is due (None: it is being made now) and
    why; ``attempt`` counts the attempt about to be made."""
    position, _state = position_lock(position_id)
    fields = {"retry_at": retry_at, "last_error": error[:1000]}
    if attempt:
        fields["retry_count"] = F("retry_count") + 1
    _write(position, **fields)
    return position


def _settled() -> dict:
    return {"retry_at": None, "retry_count": 0, "last_error": ""}


@transaction.atomic
def position_book_exit(*, position_id: int, quantity: int, prices: dict[str, Decimal],
                       intent_ids: list[int], instrument: str | None = None) -> Position:
    """Exit orders filled ``quantity`` per leg at ``prices``: close the position, or — when that is only
    a part of it — close that part as a position of its own (its P&L booked on it) and keep the rest
    open for the next attempt.  ``intent_ids`` (the fills booked) follow the part they closed."""
    from positions.services.intents import intents_book_to

    position, state = position_lock(position_id, instrument=instrument)
    if position.status != PositionStatus.CLOSING or quantity <= 0:
        return position
    price, pnl = _exit_pnl(position, prices, quantity)
    part = position
    if quantity < position.quantity:
        part = _split_off(position, quantity, exit_price=price)
        remaining = position.quantity - quantity
        _write(position, quantity=remaining, lots=remaining // position.instrument.order_quantity_per_lot,
               **_settled())
    intents_book_to(intent_ids=intent_ids, position=part)
    _book_close(part, state, price=price, pnl=pnl, actor="system", reason=part.exit_reason,
                note=f"{part.label} closed: {part.exit_reason}")
    return position


def _split_off(position: Position, quantity: int, *, exit_price: Decimal) -> Position:
    """A closed copy of ``position`` holding ``quantity`` per leg (same layer, entry and stops): the
    part an exit filled, booked on its own while the rest stays closing."""
    values = {f.attname: getattr(position, f.attname) for f in Position._meta.concrete_fields
              if not f.primary_key and f.attname not in ("created_at", "updated_at", "version")}
    # Rollover P&L stays with the rest of the position, so the trade counts it once when that closes.
    values.update(quantity=quantity, lots=quantity // position.instrument.order_quantity_per_lot,
                  status=PositionStatus.CLOSED, exit_price=exit_price, closed_at=timezone.now(),
                  rollover_pnl=Decimal("0"), **_settled())
    return Position.objects.create(**values)


def _exit_pnl(position: Position, prices: dict[str, Decimal], quantity: int) -> tuple[Decimal, Decimal]:
    """(exit price, P&L) of closing ``quantity`` per leg of the position at the legs' fills."""
    if position.futures_symbol:
        lots = quantity // position.instrument.order_quantity_per_lot
        return prices[Leg.FUT], futures_pnl(entry_price=position.entry_price, exit_price=prices[Leg.FUT],
                                            lots=lots, point_value=position.instrument.point_value)
    price = synthetic_price(strike=position.strike, ce_price=prices[Leg.CE], pe_price=prices[Leg.PE])
    return price, synthetic_pnl(quantity=quantity, pe_entry=position.pe_entry_price,
                                ce_entry=position.ce_entry_price, pe_exit=prices[Leg.PE], ce_exit=prices[Leg.CE])


@transaction.atomic
def position_close(*, position_id: int, actor: str, price: Decimal, reason: str) -> Position:
    """Ops close a position the broker no longer holds, at the price they give; its P&L =
    (price − entry) × lots × point value (for Bank Nifty the synthetic price, whose P&L equals the
    legs' when the point value is the units per lot), booked once.  The caller has checked that no
    order is in flight.  A position already closed is returned unchanged."""
    position, state = position_lock(position_id)
    if position.status == PositionStatus.CLOSED:
        return position
    pnl = futures_pnl(entry_price=position.entry_price, exit_price=price, lots=position.lots,
                      point_value=position.instrument.point_value)
    _book_close(position, state, price=price, pnl=pnl, actor=actor, reason=reason,
                note=f"{position.label} closed by ops at {price}: {reason}")
    return position


def _book_close(position: Position, state: PortfolioState, *, price: Decimal, pnl: Decimal, actor: str,
                reason: str, note: str) -> None:
    """The one close: status, exit, P&L to the ledger (once: unique per position), base, statistics."""
    pnl = pnl.quantize(CENT, rounding=ROUND_HALF_EVEN)
    # The row is locked by the caller (or created in this transaction): what we wrote is what it holds.
    _write(position, refresh=False, status=PositionStatus.CLOSED, exit_price=price, realized_pnl=pnl,
           exit_reason=reason[:100], closed_at=timezone.now(), unrealized_pnl=Decimal("0"), **_settled())
    ledger_post(state=state, kind=TransactionKind.TRADING_PNL, amount=pnl, actor=actor, position=position,
                note=note[:200])
    pyramiding = _pyramiding_locked(position.instrument_id)
    if pyramiding.base_position_id == position.pk:
        _pyramiding_update(position.instrument_id, base_position=None)  # pyramids stay open; new ones need a base
    statistics_record_trade(pnl=pnl + position.rollover_pnl, stop_exit=reason == STOP_HIT)  # the whole trade
    _refresh_totals(state)


@transaction.atomic
def position_resize(*, position_id: int, lots: int) -> tuple[int, Position]:
    """Set an open position's size (ops adopting what the broker holds); returns (lots before, position).
    No P&L is booked: the price at which the difference changed hands is unknown."""
    position, state = position_lock(position_id)
    before = position.lots
    if lots != before:
        _write(position, lots=lots, quantity=lots * position.instrument.order_quantity_per_lot)
        _refresh_totals(state)
    return before, position


@transaction.atomic
def position_roll_mark(*, position_id: int, status: str) -> Position:
    """The position's rollover state as the saga moves (none, pending, in_progress, failed)."""
    position, _state = position_lock(position_id)
    if position.rollover_status != status:
        _write(position, rollover_status=status)
    return position


@transaction.atomic
def position_roll_closed(*, position_id: int, rollover_number: int, prices: dict[str, Decimal]) -> tuple[Decimal, Decimal]:
    """The old contract is closed at ``prices`` (per leg): its P&L is booked once as ROLLOVER_PNL, and
    the position's basis becomes that close, so whatever happens next (the new contract, or a close
    while flat) is measured from there and nothing is counted twice.  Returns (close price, P&L)."""
    position, state = position_lock(position_id)
    price, pnl = _exit_pnl(position, prices, position.quantity)
    pnl = pnl.quantize(CENT, rounding=ROUND_HALF_EVEN)
    ledger_post(state=state, kind=TransactionKind.ROLLOVER_PNL, amount=pnl, actor="system", position=position,
                rollover_number=rollover_number, note=f"{position.label} rollover {rollover_number}: old contract"[:200])
    fields = {"entry_price": price, "rollover_pnl": F("rollover_pnl") + pnl, "unrealized_pnl": Decimal("0")}
    if position.original_expiry is None:
        fields.update(original_expiry=position.expiry, original_strike=position.strike,
                      original_entry_price=position.entry_price)
    if not position.futures_symbol:
        fields.update(pe_entry_price=prices[Leg.PE], ce_entry_price=prices[Leg.CE])
    _write(position, **fields)
    _refresh_totals(state)
    return price, pnl


@transaction.atomic
def position_roll_opened(*, position_id: int, contract: dict, prices: dict[str, Decimal]) -> Decimal:
    """The new contract is held: its symbols, expiry (and strike) and fills become the position's;
    stops and highest close stay (they live in the signal's price space).  Returns the entry price."""
    position, state = position_lock(position_id)
    fields = {**contract, "rollover_count": F("rollover_count") + 1, "rollover_at": timezone.now(),
              "rollover_status": "none"}
    if position.futures_symbol:
        fields["entry_price"] = prices[Leg.FUT]
    else:
        fields.update(pe_entry_price=prices[Leg.PE], ce_entry_price=prices[Leg.CE],
                      entry_price=synthetic_price(strike=contract["strike"], ce_price=prices[Leg.CE],
                                                  pe_price=prices[Leg.PE]))
    _write(position, **fields)
    statistics_bump(rollovers=1)
    _refresh_totals(state)
    return position.entry_price


@dataclass
class TrailResult:
    stops_moved: list[dict] = field(default_factory=list)
    stop_hits: list[Position] = field(default_factory=list)  # open positions whose stop the bar broke


def positions_trail(*, positions: list[Position], price: Decimal, atr: Decimal, multiple: Decimal,
                    point_value: Decimal) -> TrailResult:
    """Apply one bar close to the given open positions (locked by the caller, in its transaction):
    raise each highest close, ratchet each stop (never down), mark the open P&L, and report the
    positions whose stop the close broke."""
    result = TrailResult()
    for position in positions:
        update = trail_stop(current_stop=position.current_stop, highest_close=position.highest_close, price=price,
                            atr=atr, multiple=multiple)
        if update.moved:
            result.stops_moved.append({"position_id": position.pk, "label": position.label,
                                       "old_stop": str(position.current_stop), "new_stop": str(update.stop)})
        _write(position, refresh=False, current_stop=update.stop, highest_close=update.highest_close,
               unrealized_pnl=unrealized_pnl(entry_price=position.entry_price, mark_price=price, lots=position.lots,
                                             point_value=point_value))
        if stop_hit(price=price, stop=update.stop):
            result.stop_hits.append(position)
    return result


def position_set_base(*, position: Position) -> None:
    """An imported base becomes the instrument's base (caller's transaction holds the locks)."""
    _pyramiding_update(position.instrument_id, base_position=position, last_pyramid_price=position.entry_price)


def pyramiding_restore(*, instrument: str, base_position: Position | None, last_pyramid_price: Decimal | None) -> None:
    """Carry an instrument's pyramiding state over from the legacy system (caller's transaction
    holds the instrument lock): its base and the signal price of its latest entry."""
    _pyramiding_update(instrument, base_position=base_position, last_pyramid_price=last_pyramid_price)


def totals_refresh(*, state: PortfolioState) -> None:
    _refresh_totals(state)
