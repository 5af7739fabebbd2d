"""Phase 2: send committed intents to the broker and confirm them, one state transition at a time.

Every transition goes through ``intents.intent_transition`` (row locked, applied only from the
expected states), so two actors (a slow worker and the recovery sweeper, say) can never both send
the same intent: ``PENDING → SENT`` succeeds once.  An unclear outcome becomes ``UNKNOWN`` and is
resolved by looking the order up, never by resending.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import structlog
from django.db.models import F
from django.utils import timezone

from core import metrics
from core.alerts import alert
from core.faults import fault_point
from positions.broker import (
    Broker,
    BrokerError,
    BrokerOutcomeUnknown,
    BrokerRejected,
    BrokerUnavailable,
    OrderAwaitingApproval,
    OrderRequest,
    OrderState,
    OrderStatus,
)
from positions.models import IntentStatus, OrderIntent
from positions.services.intents import intent_transition

log = structlog.get_logger(__name__)

CONFIRM_DELAYS = (0.0, 0.2, 0.5, 1.0, 1.5)  # ~3 s of polling before leaving an order to recovery
NOT_FOUND_GRACE = timedelta(seconds=60)  # an order absent this long after sending was never placed


def _timed(endpoint: str, fn, *args):
    started = time.perf_counter()
    result = "ok"
    try:
        return fn(*args)
    except BrokerError as exc:
        result = type(exc).__name__
        raise
    finally:
        metrics.broker_calls.labels(endpoint=endpoint, result=result).observe(time.perf_counter() - started)


def intent_send(*, intent: OrderIntent, broker: Broker) -> OrderIntent:
    """Send one PENDING intent exactly once and confirm it as far as the broker lets us."""
    if not intent_transition(intent, source=(IntentStatus.PENDING,), status=IntentStatus.SENT,
                       sent_at=timezone.now(), attempts=F("attempts") + 1):
        return intent  # someone else sent it, or it was cancelled: not ours to send
    request = OrderRequest(
        client_order_id=intent.client_order_id, symbol=intent.symbol, exchange=intent.exchange,
        action=intent.action, quantity=intent.quantity, price_type=intent.price_type,
        price=intent.limit_price, reference_price=intent.reference_price,
    )
    try:
        result = _timed("place_order", broker.place_order, request)
        if isinstance(result, OrderAwaitingApproval):  # interim until the lifecycle handles approval
            raise BrokerOutcomeUnknown(f"awaiting approval (pending order {result.pending_id})")
        order_id = result.order_id
    except BrokerRejected as exc:
        intent_transition(intent, source=(IntentStatus.SENT,), status=IntentStatus.REJECTED, error=str(exc)[:500])
        return intent
    except BrokerUnavailable as exc:
        # The request did not reach the broker: nothing was placed.
        alert("broker_unreachable", every=60, error=str(exc)[:200])
        intent_transition(intent, source=(IntentStatus.SENT,), status=IntentStatus.CANCELLED,
                    error=f"broker_unavailable: {exc}"[:500])
        return intent
    except BrokerOutcomeUnknown as exc:
        metrics.broker_unknown_outcomes.inc()
        log.warning("broker_outcome_unknown", client_order_id=intent.client_order_id, error=str(exc))
        intent_transition(intent, source=(IntentStatus.SENT,), status=IntentStatus.UNKNOWN, error=str(exc)[:500])
        return intent_resolve(intent=intent, broker=broker)
    fault_point("after_broker_accept")
    intent_transition(intent, source=(IntentStatus.SENT, IntentStatus.UNKNOWN), status=IntentStatus.ACCEPTED,
                broker_order_id=order_id, accepted_at=timezone.now())
    return intent_confirm(intent=intent, broker=broker)


def intent_confirm(*, intent: OrderIntent, broker: Broker, delays=CONFIRM_DELAYS) -> OrderIntent:
    """Poll an ACCEPTED order until the broker reports a terminal state (bounded)."""
    for delay in delays:
        if intent.status != IntentStatus.ACCEPTED:
            return intent
        if delay:
            time.sleep(delay)
        try:
            status = _timed("order_status", broker.order_status, intent.broker_order_id)
        except BrokerError:
            continue
        if _apply_status(intent, status):
            return intent
    return intent  # still working at the broker: recovery confirms it later


def _apply_status(intent: OrderIntent, status: OrderStatus) -> bool:
    """Record a terminal broker state on the intent; False while the order is still working."""
    source = (IntentStatus.SENT, IntentStatus.ACCEPTED, IntentStatus.UNKNOWN)
    common = {"broker_order_id": status.order_id}
    if status.status == OrderState.COMPLETE and status.average_price:
        filled = status.filled_quantity or status.quantity
        return intent_transition(intent, source=source, status=IntentStatus.FILLED, fill_price=Decimal(status.average_price),
                           filled_quantity=filled, filled_at=timezone.now(), **common)
    if status.status == OrderState.REJECTED:
        return intent_transition(intent, source=source, status=IntentStatus.REJECTED,
                           error=(status.message or "rejected by broker")[:500], **common)
    if status.status == OrderState.CANCELLED:
        return intent_transition(intent, source=source, status=IntentStatus.CANCELLED,
                           error=(status.message or "cancelled at broker")[:500], **common)
    if intent.status != IntentStatus.ACCEPTED:
        intent_transition(intent, source=source, status=IntentStatus.ACCEPTED, accepted_at=timezone.now(), **common)
    return False


def intent_resolve(*, intent: OrderIntent, broker: Broker, now=None) -> OrderIntent:
    """Find out what became of a SENT/UNKNOWN/ACCEPTED intent, without ever sending it again."""
    if intent.status == IntentStatus.ACCEPTED:
        return intent_confirm(intent=intent, broker=broker, delays=(0.0,))
    if intent.status not in (IntentStatus.SENT, IntentStatus.UNKNOWN):
        return intent
    try:
        book = _timed("order_book", broker.order_book)
    except BrokerError:
        return intent  # still unknown; try again later
    match = _find_order(intent, book)
    if match is not None:
        _apply_status(intent, match)
        return intent
    sent_at = intent.sent_at or intent.created_at
    if (now or timezone.now()) - sent_at >= NOT_FOUND_GRACE:
        intent_transition(intent, source=(IntentStatus.SENT, IntentStatus.UNKNOWN), status=IntentStatus.CANCELLED,
                    error=f"broker_unavailable: not found at the broker {NOT_FOUND_GRACE.seconds}s after "
                          "sending, so it never reached it")
    return intent


def _find_order(intent: OrderIntent, book: list[OrderStatus]) -> OrderStatus | None:
    """Our order in the broker's book: by our tag when the broker echoes it; otherwise the earliest
    unclaimed order with the same symbol, side and quantity placed after we sent."""
    tagged = [order for order in book if order.tag == intent.client_order_id]
    if tagged:
        return tagged[0]
    if any(order.tag for order in book):
        return None  # this broker echoes tags, and none is ours
    claimed = set(
        OrderIntent.objects.exclude(pk=intent.pk).exclude(broker_order_id=None).values_list("broker_order_id", flat=True)
    )
    earliest = (intent.sent_at or intent.created_at) - timedelta(seconds=5)
    candidates = [
        order for order in book
        if order.order_id not in claimed and order.symbol == intent.symbol and order.action == intent.action
        and order.quantity == intent.quantity and (order.placed_at is None or order.placed_at >= earliest)
    ]
    return candidates[0] if candidates else None
