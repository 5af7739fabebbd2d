"""Phase 3: drive a position's entry or exit to a settled state, step by step (``positions.legs``).

``position_drive`` is the one path used by the executor right after a decision, by the sweeper after
a crash, and by the retry job for exits the broker did not take: it looks up orders at the broker,
sends what the planner says is next, books what filled, and schedules another attempt of an exit
(never drops it).  One driver per position at a time (a named lock); safe to call again at any time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.utils import timezone

from core.alerts import alert
from core.faults import fault_point
from core.locks import LockBusy, named_lock
from portfolio.models import Instrument
from portfolio.selectors import next_market_open
from positions import legs
from positions.broker import Broker
from positions.models import IntentStatus, OrderIntent, Position, PositionStatus
from positions.selectors import position_orders
from positions.services import lifecycle
from positions.services.intents import intent_create, intent_resize, intents_cancel_pending
from positions.services.orders import intent_resolve, intent_send
from positions.services.planning import price_type

log = structlog.get_logger(__name__)

OPENED, CLOSED, ENTRY_FAILED, EXIT_PENDING, UNWINDING, WAITING = (
    "opened", "closed", "entry_failed", "exit_pending", "unwinding", "waiting")
NOTHING_TO_DO = "nothing_to_do"
INLINE_RETRY_DELAYS = (0.5, 1.0)  # the first retries of a refused exit happen at once (blocking briefly)
RETRY_DELAYS = (5, 15, 30, 60, 120, 300)  # then the retry job paces them; the last repeats
MAX_STEPS = 30
POSITION_LOCK_TTL = 15  # renewed every 5 s while the driver lives; a dead driver's lock lapses soon


def position_driver_lock(position_id: int):
    """One driver at a time per position (its entry, exit or rollover): raises LockBusy otherwise."""
    return named_lock("position", str(position_id), ttl=POSITION_LOCK_TTL)


@dataclass(frozen=True)
class Settlement:
    position_id: int
    outcome: str
    reason: str = ""  # for failures: broker_rejected | broker_unavailable | broker_outcome_unknown | ...
    detail: dict = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (OPENED, CLOSED)

    @property
    def waits_for_open(self) -> bool:
        """An exit the closed exchange would not take yet: queued for the next open, not a failure."""
        return self.outcome == EXIT_PENDING and self.reason == "market_closed"


def position_drive(*, position_id: int, broker: Broker, now: datetime | None = None,
                   inline_retries: bool = True) -> Settlement:
    """Take the position's entry or exit as far as the broker lets us now."""
    try:
        with position_driver_lock(position_id):
            return _drive(position_id, broker, now, inline_retries)
    except LockBusy:
        return Settlement(position_id, WAITING, "broker_outcome_unknown", {"note": "another driver has it"})


def _legs(position: Position) -> tuple[str, ...]:
    return ("FUT",) if position.futures_symbol else ("CE", "PE")


def _plan(position: Position) -> tuple[legs.Step | None, list[legs.Order]]:
    """The next step of the position's entry or exit, and the orders it was planned from."""
    if position.status == PositionStatus.OPENING:
        orders = position_orders(position, ("entry", "reversal"))
        return legs.entry_step(legs=_legs(position), orders=orders), orders
    if position.status == PositionStatus.CLOSING:
        orders = position_orders(position, ("exit",))
        return legs.exit_step(legs=_legs(position), quantity=position.quantity, orders=orders), orders
    return None, []


def _step(position: Position) -> legs.Step | None:
    return _plan(position)[0]


def _drive(position_id: int, broker: Broker, now: datetime | None, inline_retries: bool) -> Settlement:
    outcome: Settlement | None = None
    instrument = None
    for _ in range(MAX_STEPS):
        position = _read(position_id, instrument)
        instrument = position.instrument
        step, orders = _plan(position)
        if step is None:
            return outcome or Settlement(position_id, NOTHING_TO_DO)
        if step.kind == legs.WAIT:
            if not look_up_orders(position, broker, now):
                return Settlement(position_id, WAITING, "broker_outcome_unknown", _detail(position))
        elif step.kind == legs.SEND:
            send_step(position, step, broker)
        elif step.kind == legs.CANCEL:
            intents_cancel_pending(intents=[OrderIntent.objects.get(pk=step.order_id)],
                                   error=legs.WITHDRAWN)
        elif step.kind in (legs.CREATE, legs.RETRY):
            pacing = _pace(position, step, now, inline_retries)
            if pacing is not None:
                return pacing
            _create(position, step)
        elif step.kind == legs.OPEN:
            fault_point("before_booking")
            lifecycle.position_open(position_id=position_id, quantity=step.quantity, prices=_prices(position),
                                    instrument=position.instrument_id)
            return Settlement(position_id, OPENED, detail=_detail(position))
        elif step.kind == legs.FAIL:
            lifecycle.position_fail_entry(position_id=position_id, note=_note(step.reason or "nothing filled"),
                                          unwind_pnl=_unwind_pnl(position))
            return Settlement(position_id, ENTRY_FAILED, _reason(step.reason), _detail(position))
        elif step.kind == legs.BOOK:
            fault_point("before_booking")
            whole = step.quantity == position.quantity
            lifecycle.position_book_exit(position_id=position_id, quantity=step.quantity, prices=_prices(position),
                                         intent_ids=[o.id for o in orders], instrument=position.instrument_id)
            if whole:
                return Settlement(position_id, CLOSED, detail=_detail(position))
            outcome = Settlement(position_id, EXIT_PENDING, "exit_partial", _detail(position))
    return outcome or Settlement(position_id, WAITING, "broker_outcome_unknown", _detail(position))


def _read(position_id: int, instrument: Instrument | None) -> Position:
    """The position as it is now.  Its instrument is read with it at the first step of a drive and
    reused by the next steps, which follow within moments (its parameters are the trader's; a mark
    that moves meanwhile only shifts a reference price, and the next drive reads it afresh)."""
    if instrument is None:
        return Position.objects.select_related("instrument").get(pk=position_id)
    position = Position.objects.get(pk=position_id)
    position.instrument = instrument
    return position


def look_up_orders(position: Position, broker: Broker, now) -> bool:
    """Look up every order of the position still at the broker; True when one of them moved on."""
    moved = False
    for intent in position.intents.filter(status__in=[IntentStatus.SENT, IntentStatus.UNKNOWN,
                                                      IntentStatus.ACCEPTED, IntentStatus.AWAITING_APPROVAL,
                                                      IntentStatus.UNRESOLVED]).order_by("id"):
        before = (intent.status, intent.filled_quantity)
        intent_resolve(intent=intent, broker=broker, now=now)
        moved |= (intent.status, intent.filled_quantity) != before and intent.status != IntentStatus.UNRESOLVED
    return moved


def send_step(position: Position, step: legs.Step, broker: Broker) -> None:
    intent = OrderIntent.objects.get(pk=step.order_id)
    if intent.position_id == position.pk:
        intent.position = position  # read at this step with its instrument: no need to read them again
    if intent.quantity != step.quantity:
        intent_resize(intent, quantity=step.quantity)  # a second leg pairs with what its first leg filled
    intent_send(intent=intent, broker=broker)


def _create(position: Position, step: legs.Step) -> None:
    """Record the planner's next order (in a transaction holding the position, so its attempt number
    and client order id are its own), to be sent by the next step."""
    from django.db import transaction

    symbol = {"FUT": position.futures_symbol, "CE": position.ce_symbol, "PE": position.pe_symbol}[step.leg]
    with transaction.atomic():
        position, _ = lifecycle.position_lock(position.pk)
        if _step(position) != step:
            return  # another driver got here first (a revoked lock, a stalled worker): plan again
        reference = position.instrument.mark_price or position.entry_price or position.signal_price
        intent_create(position=position, purpose=step.purpose, leg=step.leg, sequence=_sequence(step),
                      symbol=symbol, action=step.action, quantity=step.quantity, reference_price=reference,
                      signal=position.exit_signal if step.purpose == "exit" else position.entry_signal,
                      price_type=price_type(position.instrument))


def _sequence(step: legs.Step) -> int:
    return {"FUT": 1, "PE": 1, "CE": 2}[step.leg] if step.purpose == "exit" else 11


def _pace(position: Position, step: legs.Step, now, inline_retries: bool) -> Settlement | None:
    """None: go ahead with the step now.  Otherwise the step waits (another attempt not yet due), and
    the position carries the time of its next attempt and why the last one failed."""
    if step.kind == legs.CREATE:
        return None
    now = now or timezone.now()
    if position.retry_at is not None and position.retry_at > now:
        return _pending(position, step)
    if position.retry_at is None and _reason(step.reason) == "market_closed":
        opens = next_market_open(position.instrument.exchange, now)
        if opens > now:  # no point before the open; no alert either: nothing is wrong
            lifecycle.position_retry_note(position_id=position.pk, retry_at=opens, error=step.reason)
            log.info("orders_wait_for_open", position_id=position.pk, purpose=step.purpose, opens=opens.isoformat())
            position.refresh_from_db()
            return _pending(position, step)
    inline = inline_retries and position.retry_count < len(INLINE_RETRY_DELAYS)
    if position.retry_at is None and not inline:
        index = min(max(0, position.retry_count - len(INLINE_RETRY_DELAYS)), len(RETRY_DELAYS) - 1)
        retry_at = now + timedelta(seconds=RETRY_DELAYS[index])
        lifecycle.position_retry_note(position_id=position.pk, retry_at=retry_at, error=step.reason)
        alert("exit_pending" if step.purpose == "exit" else "reversal_pending", every=60, position=position.label,
              position_id=position.pk, error=step.reason[:200], retry_at=retry_at.isoformat())
        position.refresh_from_db()
        return _pending(position, step)
    if position.retry_at is None:
        time.sleep(INLINE_RETRY_DELAYS[position.retry_count])
    lifecycle.position_retry_note(position_id=position.pk, retry_at=None, error=step.reason, attempt=True)
    return None


def _pending(position: Position, step: legs.Step) -> Settlement:
    outcome = EXIT_PENDING if step.purpose == "exit" else UNWINDING
    return Settlement(position.pk, outcome, _reason(step.reason),
                      {**_detail(position), "retry_at": position.retry_at.isoformat() if position.retry_at else None})


def _reason(error: str) -> str:
    """The outcome reason of a failed order, from the error recorded on it."""
    if error.startswith("not sent: "):
        error = error[len("not sent: "):]
    for code in ("broker_unavailable", "market_closed", "lot_size_mismatch"):
        if error.startswith(code):
            return code
    return "broker_rejected"


def _note(error: str) -> str:
    """``<reason code>: <what the broker or the guard said>``, for the position's record."""
    code = _reason(error)
    detail = error.removeprefix("not sent: ").removeprefix(code).lstrip(": ")
    return f"{code}: {detail}" if detail else code


def vwap(intents: list[OrderIntent]) -> Decimal | None:
    filled = [i for i in intents if i.filled_quantity]
    quantity = sum(i.filled_quantity for i in filled)
    return sum(i.fill_price * i.filled_quantity for i in filled) / quantity if quantity else None


def _prices(position: Position) -> dict[str, Decimal]:
    """Volume-weighted fill price per leg of the orders now being booked (entry: net of reversals)."""
    purpose = "entry" if position.status == PositionStatus.OPENING else "exit"
    filled = list(position.intents.filter(purpose__in=(purpose, "reversal"), filled_quantity__gt=0))
    intents = [i for i in filled if i.purpose == purpose]
    prices = {leg: vwap([i for i in intents if i.leg == leg]) for leg in {i.leg for i in intents}}
    reversals = [i for i in filled if i.purpose == "reversal"]
    if position.status == PositionStatus.OPENING and reversals:
        # CE bought beyond what the PE paired and sold back: its gain or loss stays with the CE held.
        bought = [i for i in intents if i.leg == "CE"]
        cost = sum(i.fill_price * i.filled_quantity for i in bought) - sum(r.fill_price * r.filled_quantity
                                                                           for r in reversals)
        held = sum(i.filled_quantity for i in bought) - sum(r.filled_quantity for r in reversals)
        if held:
            prices["CE"] = cost / held
    return prices


def _unwind_pnl(position: Position) -> Decimal:
    """Money made or lost buying legs and selling them back when an entry paired nothing."""
    fills = position.intents.filter(filled_quantity__gt=0, purpose__in=("entry", "reversal"))
    return sum((i.fill_price * i.filled_quantity * (1 if i.action == "SELL" else -1) for i in fills), Decimal("0"))


_DETAIL_FIELDS = ("client_order_id", "leg", "action", "symbol", "quantity", "filled_quantity", "status",
                  "broker_order_id", "fill_price", "error")


def _detail(position: Position) -> dict:
    rows = OrderIntent.objects.filter(position=position).order_by("id").values(*_DETAIL_FIELDS)
    return {"orders": [{**row, "fill_price": str(row["fill_price"]) if row["fill_price"] is not None else None}
                       for row in rows]}


def settlement_of(*, position: Position, signal_id: int) -> Settlement:
    """Where a position stands for the signal that opened or closed it (after any driving)."""
    detail = _detail(position)
    if position.entry_signal_id == signal_id:
        if position.status in (PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.CLOSED):
            return Settlement(position.pk, OPENED, detail=detail)
        if position.status == PositionStatus.FAILED:
            return Settlement(position.pk, ENTRY_FAILED, _reason(position.exit_reason.removeprefix("entry failed: ")),
                              detail)
        return Settlement(position.pk, WAITING, "broker_outcome_unknown", detail)
    if position.status == PositionStatus.CLOSED:
        return Settlement(position.pk, CLOSED, detail=detail)
    if position.exit_pending:
        return Settlement(position.pk, EXIT_PENDING, _reason(position.last_error), detail)
    return Settlement(position.pk, WAITING, "broker_outcome_unknown", detail)
