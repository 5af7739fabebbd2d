"""The rollover saga (DESIGN §8, §15.2): one position from its contract to the next, leg by leg.

Close the old contract whole (futures: SELL; Bank Nifty: BUY PE back, then SELL CE), book its P&L
once (ROLLOVER_PNL), then open the next contract whole (BUY; Bank Nifty: BUY CE, then SELL PE at the
ATM strike of the current mark).  Every leg is an order intent of the rollover and goes through the
same order lifecycle as a signal's (lost answers, part fills, refusals); the leg planner reads the
intents, so a process killed at any point resumes exactly there (the sweeper, startup recovery and
the rollover job all drive active rollovers).  Database steps run SERIALIZABLE with retry.

A refused or short leg is tried again, paced (the position shows ``failed`` meanwhile, and ops are
alerted); while flat between the close and the open it is tried until the new contract is held, and
after ``FLAG_AFTER`` attempts ops are asked to step in (an open discrepancy halts the instrument's
entries).  A position is never left open in our books with nothing at the broker unnoticed.

This module is the one writer of ``Rollover`` rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.alerts import alert
from core.db import atomic_with_retry
from core.faults import fault_point
from core.locks import LockBusy
from portfolio.selectors import instrument_params, next_market_open
from portfolio.services import statistics_bump
from portfolio.sessions import IST
from positions import legs
from positions.broker import Broker
from positions.calendars import following_expiry, next_expiry
from positions.models import ACTIVE_PHASES, OrderIntent, Position, PositionStatus, Rollover, RolloverPhase
from positions.models import RolloverStatus as Marked
from positions.selectors import rollover_orders, trading_calendar
from positions.services import lifecycle
from positions.services.intents import intent_create, intents_cancel_pending
from positions.services.planning import contract_symbols, price_type
from positions.services.settle import (
    INLINE_RETRY_DELAYS,
    MAX_STEPS,
    RETRY_DELAYS,
    look_up_orders,
    position_driver_lock,
    send_step,
    vwap,
)

log = structlog.get_logger(__name__)

FLAG_AFTER = 3  # paced attempts of a refused leg before ops are asked to step in
CLOSE, OPEN = "rollover_close", "rollover_open"
# Outcomes of one drive.
DONE, WAITING, RETRY_PENDING, CANCELLED = "done", "waiting", "retry_pending", "cancelled"


class RolloverRefused(Exception):
    """The position cannot be rolled now (not open, already rolling, no price for the new strike)."""


@dataclass(frozen=True)
class RollOutcome:
    rollover_id: int
    position_id: int
    outcome: str
    detail: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------- planning

def next_contract(position: Position, *, today) -> dict:
    """The contract a roll of ``position`` goes to: the first expiry after its own (or, for a contract
    already expired, after today), at the ATM strike of the instrument's mark for options."""
    instrument = position.instrument
    params, calendar = instrument_params(instrument), trading_calendar(instrument.exchange)
    expiry = following_expiry(params=params, expiry=position.expiry, calendar=calendar)
    if expiry <= today:
        expiry = next_expiry(params=params, on_or_after=today + timedelta(days=1), calendar=calendar)
    price = instrument.mark_price
    if price is None and not position.futures_symbol:
        raise RolloverRefused(f"{instrument.code} has no mark price for the new strike yet")
    return {"expiry": expiry, **contract_symbols(instrument, expiry=expiry, price=price)}


def rollover_start(*, position_id: int, trigger: str, today=None) -> Rollover:
    """Record the rollover of an open position (nothing is sent yet): its old and new contracts."""
    today = today or timezone.now().astimezone(IST).date()

    def start() -> Rollover:
        position, _state = lifecycle.position_lock(position_id)
        if position.status != PositionStatus.OPEN:
            raise RolloverRefused(f"position {position_id} is {position.status}, not open")
        if Rollover.objects.filter(position_id=position_id, phase__in=ACTIVE_PHASES).exists():
            raise RolloverRefused(f"position {position_id} is already rolling")
        new = next_contract(position, today=today)
        number = 1 + (Rollover.objects.filter(position_id=position_id).aggregate(n=Max("number"))["n"] or 0)
        roll = Rollover.objects.create(
            position=position, number=number, trigger=trigger[:150], quantity=position.quantity,
            old_expiry=position.expiry, old_strike=position.strike, old_futures_symbol=position.futures_symbol,
            old_ce_symbol=position.ce_symbol, old_pe_symbol=position.pe_symbol, new_expiry=new["expiry"],
            new_strike=new.get("strike"), new_futures_symbol=new.get("futures_symbol", ""),
            new_ce_symbol=new.get("ce_symbol", ""), new_pe_symbol=new.get("pe_symbol", ""),
        )
        _note(roll, "planned", trigger=trigger, old=roll.old_symbols, new=roll.new_symbols)
        lifecycle.position_roll_mark(position_id=position_id, status=Marked.PENDING)
        return roll

    roll = atomic_with_retry(start, name="rollover_start", serializable=True)
    log.info("rollover_planned", position_id=position_id, rollover_id=roll.pk, old=roll.old_symbols,
             new=roll.new_symbols)
    return roll


# ------------------------------------------------------------------------------------ driving

def rollover_drive(*, rollover_id: int, broker: Broker, now: datetime | None = None,
                   inline_retries: bool = True) -> RollOutcome:
    """Take the rollover as far as the broker lets us now (one driver per position at a time)."""
    position_id = Rollover.objects.values_list("position_id", flat=True).get(pk=rollover_id)
    try:
        with position_driver_lock(position_id):
            return _drive(rollover_id, broker, now, inline_retries)
    except LockBusy:
        return RollOutcome(rollover_id, position_id, WAITING, {"note": "another driver has it"})


def _legs_of(roll: Rollover, purpose: str) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """(first, second) (leg, action) of a phase, in the order that never leaves a put uncovered."""
    if roll.old_futures_symbol:
        return ("FUT", "SELL" if purpose == CLOSE else "BUY"), None
    return (("PE", "BUY"), ("CE", "SELL")) if purpose == CLOSE else (("CE", "BUY"), ("PE", "SELL"))


def _next_step(roll: Rollover) -> legs.Step:
    """What the rollover's current phase needs next, read from its orders."""
    purpose = CLOSE if roll.phase == RolloverPhase.CLOSING else OPEN
    first, second = _legs_of(roll, purpose)
    return legs.pair_step(first=first, second=second, target=roll.quantity, orders=rollover_orders(roll, purpose),
                          purpose=purpose)


def _drive(rollover_id: int, broker: Broker, now, inline_retries: bool) -> RollOutcome:
    for _ in range(MAX_STEPS):
        roll = Rollover.objects.select_related("position__instrument").get(pk=rollover_id)
        position = roll.position
        if roll.phase not in ACTIVE_PHASES:
            return _outcome(roll, DONE if roll.phase == RolloverPhase.DONE else CANCELLED)
        if position.status != PositionStatus.OPEN:
            return _outcome(roll, CANCELLED if rollover_cancel(rollover_id=roll.pk, note=(
                f"the position is {position.status}")) else WAITING)
        step = _next_step(roll)
        if step.kind == legs.COMPLETE:
            if step.purpose == CLOSE:
                fault_point("rollover_close_filled")
                _closed(roll)
                continue
            _opened(roll)
            return _outcome(Rollover.objects.get(pk=rollover_id), DONE)
        if step.kind == legs.WAIT:
            if not look_up_orders(position, broker, now):
                return _outcome(roll, WAITING)
        elif step.kind == legs.SEND:
            if position.rollover_status != Marked.IN_PROGRESS:
                lifecycle.position_roll_mark(position_id=position.pk, status=Marked.IN_PROGRESS)
            send_step(position, step, broker)
        elif step.kind == legs.CANCEL:
            intents_cancel_pending(intents=[OrderIntent.objects.get(pk=step.order_id)], error=legs.WITHDRAWN)
        else:  # CREATE or RETRY
            if step.kind == legs.RETRY and not _retry_now(roll, step, now, inline_retries):
                return _outcome(Rollover.objects.get(pk=rollover_id), RETRY_PENDING)
            _create(roll, step)
    return _outcome(Rollover.objects.get(pk=rollover_id), WAITING)


def _create(roll: Rollover, step: legs.Step) -> None:
    """Record the planner's next leg (re-planned under the locks, so two drivers never both do)."""
    with transaction.atomic():
        position, _state = lifecycle.position_lock(roll.position_id)
        roll = Rollover.objects.select_for_update().get(pk=roll.pk)
        if roll.phase not in ACTIVE_PHASES:
            return
        if _next_step(roll) != step:
            return
        prefix = "old" if step.purpose == CLOSE else "new"
        symbol = getattr(roll, f"{prefix}_{'futures' if step.leg == 'FUT' else step.leg.lower()}_symbol")
        instrument = position.instrument
        first_leg = _legs_of(roll, step.purpose)[0][0]
        intent_create(position=position, purpose=step.purpose, leg=step.leg, sequence=1 if step.leg == first_leg else 2,
                      symbol=symbol, action=step.action, quantity=step.quantity, rollover=roll,
                      reference_price=instrument.mark_price or position.entry_price, price_type=price_type(instrument))


def _retry_now(roll: Rollover, step: legs.Step, now, inline_retries: bool) -> bool:
    """Whether a refused or short leg is tried again now; otherwise the rollover carries when it will
    be (at the next session open when the market was closed) and ops hear of it."""
    now = now or timezone.now()
    if roll.retry_at is not None and roll.retry_at > now:
        return False
    inline = inline_retries and roll.attempts < len(INLINE_RETRY_DELAYS) and not _waits_for_open(roll, step, now)
    if roll.retry_at is None and not inline:
        _schedule_retry(roll, step, now)
        return False
    if roll.retry_at is None:
        time.sleep(INLINE_RETRY_DELAYS[roll.attempts])
    _save(roll, attempts=roll.attempts + 1, retry_at=None, last_error=step.reason[:1000])
    return True


def _waits_for_open(roll: Rollover, step: legs.Step, now) -> bool:
    return (step.reason.removeprefix("not sent: ").startswith("market_closed")
            and next_market_open(roll.position.instrument.exchange, now) > now)


def _schedule_retry(roll: Rollover, step: legs.Step, now) -> None:
    if _waits_for_open(roll, step, now):
        retry_at = next_market_open(roll.position.instrument.exchange, now)
    else:
        index = min(max(0, roll.attempts - len(INLINE_RETRY_DELAYS)), len(RETRY_DELAYS) - 1)
        retry_at = now + timedelta(seconds=RETRY_DELAYS[index])
    first_failure = roll.position.rollover_status != Marked.FAILED
    flag = roll.phase == RolloverPhase.OPENING and roll.attempts >= FLAG_AFTER and roll.flagged_at is None
    with transaction.atomic():
        _save(roll, retry_at=retry_at, last_error=step.reason[:1000], **({"flagged_at": now} if flag else {}))
        _note(roll, "leg_failed", leg=step.leg, action=step.action, quantity=step.quantity, error=step.reason[:300],
              retry_at=retry_at.isoformat())
        lifecycle.position_roll_mark(position_id=roll.position_id, status=Marked.FAILED)
        if first_failure:
            statistics_bump(rollovers_failed=1)
    alert("rollover_failed", every=300, position_id=roll.position_id, rollover=roll.number, phase=roll.phase,
          leg=step.leg, error=step.reason[:200], retry_at=retry_at.isoformat())
    if flag:
        alert("rollover_needs_ops", position_id=roll.position_id, rollover=roll.number, symbols=roll.new_symbols,
              note="the old contract is closed and the new one could not be opened: the position is flat")


def _closed(roll: Rollover) -> None:
    """The old contract is closed whole: book its P&L once and move on to opening the new one."""
    prices = _fill_prices(roll, CLOSE)

    def book() -> None:
        locked = Rollover.objects.select_for_update().get(pk=roll.pk)
        if locked.phase != RolloverPhase.CLOSING:
            return
        price, pnl = lifecycle.position_roll_closed(position_id=roll.position_id, rollover_number=roll.number,
                                                    prices=prices)
        _save(locked, phase=RolloverPhase.OPENING, close_price=price, pnl=pnl, attempts=0, retry_at=None,
              last_error="")
        _note(locked, "old_contract_closed", price=str(price), pnl=str(pnl))

    atomic_with_retry(book, name="rollover_closed", serializable=True)


def _opened(roll: Rollover) -> None:
    """The new contract is held whole: it becomes the position's, and the rollover is done."""
    prices = _fill_prices(roll, OPEN)
    contract = {"expiry": roll.new_expiry}
    if roll.new_futures_symbol:
        contract["futures_symbol"] = roll.new_futures_symbol
    else:
        contract.update(strike=roll.new_strike, ce_symbol=roll.new_ce_symbol, pe_symbol=roll.new_pe_symbol)

    def book() -> None:
        locked = Rollover.objects.select_for_update().get(pk=roll.pk)
        if locked.phase != RolloverPhase.OPENING:
            return
        entry = lifecycle.position_roll_opened(position_id=roll.position_id, contract=contract, prices=prices)
        _save(locked, phase=RolloverPhase.DONE, open_price=entry, retry_at=None, finished_at=timezone.now())
        _note(locked, "new_contract_opened", price=str(entry))

    atomic_with_retry(book, name="rollover_opened", serializable=True)
    log.info("rollover_done", position_id=roll.position_id, rollover=roll.number, new=roll.new_symbols)


def _fill_prices(roll: Rollover, purpose: str) -> dict:
    intents = list(roll.intents.filter(purpose=purpose, filled_quantity__gt=0))
    return {leg: vwap([i for i in intents if i.leg == leg]) for leg in {i.leg for i in intents}}


# ------------------------------------------------------------------------------ cancellation

def rollover_cancel(*, rollover_id: int, note: str) -> bool:
    """Give up a rollover whose legs hold nothing in flight: its unsent legs are cancelled.  False
    (nothing changed) while a leg is at the broker — only its outcome can settle that."""
    with transaction.atomic():
        roll = Rollover.objects.select_for_update().get(pk=rollover_id)
        if roll.phase not in ACTIVE_PHASES:
            return roll.phase == RolloverPhase.CANCELLED
        if roll.intents.exclude(status__in=("PENDING", "FILLED", "REJECTED", "CANCELLED")).exists():
            return False
        pending = list(roll.intents.filter(status="PENDING"))
        if pending:
            intents_cancel_pending(intents=pending, error=f"not sent: {note}")
        _save(roll, phase=RolloverPhase.CANCELLED, retry_at=None, finished_at=timezone.now())
        _note(roll, "cancelled", note=note)
        lifecycle.position_roll_mark(position_id=roll.position_id, status=Marked.NONE)
    log.warning("rollover_cancelled", rollover_id=rollover_id, note=note)
    return True


# ------------------------------------------------------------------------------------ records

def _save(roll: Rollover, **fields) -> None:
    for name, value in fields.items():
        setattr(roll, name, value)
    roll.save(update_fields=[*fields, "updated_at"])


def _note(roll: Rollover, step: str, **detail) -> None:
    """Append one line to the rollover's step log (who reads it: ops, in admin and the API)."""
    roll.steps = [*roll.steps, {"at": timezone.now().isoformat(), "step": step, **detail}]
    roll.save(update_fields=["steps", "updated_at"])


def _outcome(roll: Rollover, outcome: str) -> RollOutcome:
    return RollOutcome(roll.pk, roll.position_id, outcome, {
        "phase": roll.phase, "old": roll.old_symbols, "new": roll.new_symbols,
        "pnl": str(roll.pnl) if roll.pnl is not None else None,
        "retry_at": roll.retry_at.isoformat() if roll.retry_at else None, "error": roll.last_error[:300]})
