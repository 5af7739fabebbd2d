"""Phase 3: drive a position's in-flight entry or exit to a settled state.

``position_drive`` is the one path used by the executor right after a decision and by recovery
after a crash: it resolves unclear intents, sends the next pending leg only when every earlier leg
filled, reverses a half-filled entry, and books the result.  It is safe to call again at any time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from core.faults import fault_point
from positions.broker import Broker
from positions.models import IntentPurpose, IntentStatus, OrderIntent, Position, PositionStatus
from positions.models.intent import UNRESOLVED_INTENT_STATUSES
from positions.selectors import current_batch
from positions.services import lifecycle
from positions.services.intents import intents_cancel_pending
from positions.services.orders import intent_resolve, intent_send
from positions.services.planning import reversal_plan

log = structlog.get_logger(__name__)

OPENED, CLOSED = "opened", "closed"
ENTRY_FAILED, EXIT_FAILED, EXIT_PARTIAL, NAKED_LEG, UNRESOLVED = (
    "entry_failed", "exit_failed", "exit_partial", "naked_leg", "unresolved"
)
NOTHING_TO_DO = "nothing_to_do"


@dataclass(frozen=True)
class Settlement:
    position_id: int
    outcome: str
    reason: str = ""  # broker_rejected | broker_unavailable | broker_outcome_unknown for failures
    detail: dict = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.outcome in (OPENED, CLOSED)


def _advance(batch: list[OrderIntent], broker: Broker, now=None) -> None:
    """Resolve unclear legs and send pending ones in order; stop at the first leg not filled."""
    for intent in batch:
        if intent.status in (IntentStatus.SENT, IntentStatus.UNKNOWN, IntentStatus.ACCEPTED):
            intent_resolve(intent=intent, broker=broker, now=now)
        elif intent.status == IntentStatus.PENDING:
            intent_send(intent=intent, broker=broker)
        if intent.status != IntentStatus.FILLED:
            break
    if any(i.status in (IntentStatus.REJECTED, IntentStatus.CANCELLED) for i in batch):
        # A leg failed for good: the legs after it must never be sent.
        intents_cancel_pending(intents=batch, error="not sent: an earlier leg failed")


def _failure_reason(batch: list[OrderIntent]) -> str:
    if any(i.status in UNRESOLVED_INTENT_STATUSES for i in batch):
        return "broker_outcome_unknown"
    if any(i.status == IntentStatus.CANCELLED and i.error.startswith("broker_unavailable") for i in batch):
        return "broker_unavailable"
    return "broker_rejected"


def _detail(batch: list[OrderIntent]) -> dict:
    return {
        "orders": [
            {"client_order_id": i.client_order_id, "leg": i.leg, "action": i.action, "symbol": i.symbol,
             "quantity": i.quantity, "status": i.status, "broker_order_id": i.broker_order_id,
             "fill_price": str(i.fill_price) if i.fill_price is not None else None, "error": i.error}
            for i in batch
        ]
    }


def position_drive(*, position_id: int, broker: Broker, now=None) -> Settlement:
    """``now`` (default: the clock) decides when an order never seen at the broker was never placed."""
    position = Position.objects.select_related("instrument").get(pk=position_id)
    if position.status == PositionStatus.OPENING:
        return _drive_entry(position, broker, now)
    if position.status == PositionStatus.CLOSING:
        return _drive_exit(position, broker, now)
    return Settlement(position_id, NOTHING_TO_DO)


def _drive_entry(position: Position, broker: Broker, now) -> Settlement:
    batch = current_batch(position, IntentPurpose.ENTRY)
    _advance(batch, broker, now)
    if all(i.status == IntentStatus.FILLED for i in batch):
        fault_point("before_booking")
        lifecycle.position_open(position_id=position.pk)
        return Settlement(position.pk, OPENED, detail=_detail(batch))
    if any(i.status in UNRESOLVED_INTENT_STATUSES for i in batch):
        return Settlement(position.pk, UNRESOLVED, "broker_outcome_unknown", _detail(batch))
    reason = _failure_reason(batch)
    reversals = current_batch(position, IntentPurpose.REVERSAL)
    filled = [i for i in batch if i.status == IntentStatus.FILLED]
    if filled and not reversals:
        reversals = reversal_plan(position=position, filled=filled)
    _advance(reversals, broker, now)
    detail = _detail(batch + reversals)
    if any(i.status in UNRESOLVED_INTENT_STATUSES for i in reversals):
        return Settlement(position.pk, UNRESOLVED, "broker_outcome_unknown", detail)
    naked = any(i.status != IntentStatus.FILLED for i in reversals)
    lifecycle.position_fail_entry(position_id=position.pk, note="naked leg: reversal failed" if naked else reason)
    if naked:
        log.critical("naked_leg", position_id=position.pk, label=position.label)
        return Settlement(position.pk, NAKED_LEG, reason, detail)
    return Settlement(position.pk, ENTRY_FAILED, reason, detail)


def _drive_exit(position: Position, broker: Broker, now) -> Settlement:
    batch = current_batch(position, IntentPurpose.EXIT)
    _advance(batch, broker, now)
    detail = _detail(batch)
    if batch and all(i.status == IntentStatus.FILLED for i in batch):
        fault_point("before_booking")
        lifecycle.position_close(position_id=position.pk, actor="system")
        return Settlement(position.pk, CLOSED, detail=detail)
    if any(i.status in UNRESOLVED_INTENT_STATUSES for i in batch):
        return Settlement(position.pk, UNRESOLVED, "broker_outcome_unknown", detail)
    reason = _failure_reason(batch)
    if not any(i.status == IntentStatus.FILLED for i in batch):
        lifecycle.position_exit_revert(position_id=position.pk)  # nothing sold: the position is simply still open
        return Settlement(position.pk, EXIT_FAILED, reason, detail)
    log.critical("exit_partially_filled", position_id=position.pk, label=position.label)
    return Settlement(position.pk, EXIT_PARTIAL, reason, detail)


def settlement_of(*, position: Position, signal_id: int) -> Settlement:
    """Where a position stands for the signal that opened or closed it (after any driving)."""
    batch_purpose = IntentPurpose.ENTRY if position.entry_signal_id == signal_id else IntentPurpose.EXIT
    detail = _detail(current_batch(position, batch_purpose))
    if position.entry_signal_id == signal_id:
        if position.status in (PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.CLOSED):
            return Settlement(position.pk, OPENED, detail=detail)
        if position.status == PositionStatus.FAILED:
            reason = _failure_reason(current_batch(position, IntentPurpose.ENTRY))
            return Settlement(position.pk, ENTRY_FAILED, reason, detail)
        return Settlement(position.pk, UNRESOLVED, "broker_outcome_unknown", detail)
    if position.status == PositionStatus.CLOSED:
        return Settlement(position.pk, CLOSED, detail=detail)
    batch = current_batch(position, IntentPurpose.EXIT)
    if any(i.status in UNRESOLVED_INTENT_STATUSES for i in batch):
        return Settlement(position.pk, UNRESOLVED, "broker_outcome_unknown", detail)
    return Settlement(position.pk, EXIT_PARTIAL, _failure_reason(batch), detail)
