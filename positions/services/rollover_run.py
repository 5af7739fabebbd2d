"""What starts and resumes rollovers (the leader's job, ``manage.py rollover``, the admin's "roll now")
and what an exit does to a rollover under way."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from portfolio.selectors import market_open, next_market_open
from portfolio.sessions import IST
from positions.broker import Broker
from positions.broker.factory import get_broker
from positions.calendars import days_to_expiry
from positions.models import Position
from positions.selectors import active_rollover, rollover_candidates, rollover_exit_state, rollovers_due
from positions.services import lifecycle
from positions.services.rollover import RolloverRefused, next_contract, rollover_cancel, rollover_drive, rollover_start


def rollover_run(*, broker: Broker | None = None, now: datetime | None = None, trigger: str = "job",
                 position_id: int | None = None, dry_run: bool = False) -> list[dict]:
    """Roll every candidate (or the one position asked for, candidate or not) whose exchange is in
    session, then drive the rollovers already under way.  One dict per position touched."""
    now = now or timezone.now()
    today = now.astimezone(IST).date()
    broker = broker or (None if dry_run else get_broker())
    if position_id is not None:
        positions = list(Position.objects.select_related("instrument").filter(pk=position_id))
        if not positions:
            raise RolloverRefused(f"no position {position_id}")
    else:
        positions = rollover_candidates(today=today)
    report = [_roll(position, broker=broker, now=now, today=today, trigger=trigger, dry_run=dry_run)
              for position in positions]
    if position_id is None and not dry_run:
        touched = {entry.get("rollover_id") for entry in report}
        report += [_resume(rollover_id, broker=broker) for rollover_id in rollovers_due(now=now)
                   if rollover_id not in touched]
    return [entry for entry in report if entry]


def _roll(position: Position, *, broker, now, today, trigger: str, dry_run: bool) -> dict:
    exchange = position.instrument.exchange
    entry = {"position_id": position.pk, "label": position.label, "expiry": position.expiry.isoformat(),
             "days_to_expiry": days_to_expiry(expiry=position.expiry, today=today)}
    under_way = active_rollover(position_id=position.pk)
    if not market_open(exchange, now):
        return {**entry, "outcome": "skipped", "reason": "market_closed",
                "next_open": next_market_open(exchange, now).isoformat()}
    if under_way is not None:
        return {**entry, **({"outcome": "under_way", "rollover_id": under_way.pk} if dry_run
                            else _resume(under_way.pk, broker=broker))}
    try:
        new = next_contract(position, today=today)
        if dry_run:
            return {**entry, "outcome": "would_roll", "old": position.symbols,
                    "new": [new[k] for k in ("futures_symbol", "ce_symbol", "pe_symbol") if k in new],
                    "new_expiry": new["expiry"].isoformat()}
        roll = rollover_start(position_id=position.pk, trigger=trigger, today=today)
    except RolloverRefused as exc:
        return {**entry, "outcome": "refused", "reason": str(exc)}
    return {**entry, **_resume(roll.pk, broker=broker, inline_retries=True)}


def _resume(rollover_id: int, *, broker, now: datetime | None = None, inline_retries: bool = False) -> dict:
    result = rollover_drive(rollover_id=rollover_id, broker=broker, now=now, inline_retries=inline_retries)
    return {"rollover_id": result.rollover_id, "position_id": result.position_id, "outcome": result.outcome,
            **result.detail}


def rollovers_resume(*, broker: Broker | None = None, now: datetime | None = None) -> list[dict]:
    """Drive every rollover under way whose next attempt is due (the sweeper and the retry job)."""
    now = now or timezone.now()
    due = rollovers_due(now=now)
    broker = broker or (get_broker() if due else None)
    return [_resume(rollover_id, broker=broker, now=now) for rollover_id in due]


def rollover_yield_to_exit(*, position: Position, reason: str) -> str:
    """Make way for an exit of ``position`` (inside the caller's transaction): ``exit`` — no rollover,
    or one not begun, now cancelled: exit as usual; ``closed`` — the old contract was closed and the
    new one holds nothing: the rollover is cancelled and the position closed at the old contract's
    close (its P&L is already booked); ``busy`` — a rollover leg is at the broker or part-filled: the
    exit must wait for it."""
    state, roll = rollover_exit_state(position_id=position.pk)
    if state == "none":
        return "exit"
    if state == "busy" or not rollover_cancel(rollover_id=roll.pk, note=f"an exit took over ({reason or 'exit'})"):
        return "busy"
    if state == "cancellable":
        position.refresh_from_db()
        return "exit"
    lifecycle.position_close(position_id=position.pk, actor="system", price=roll.close_price,
                             reason=reason or "exit during rollover")
    return "closed"
