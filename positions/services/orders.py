"""Phase 2: send committed intents to the broker and find out what became of them (DESIGN §15.1).

Every transition goes through ``intents`` (row locked, applied only from the expected states), so two
actors can never both send an intent.  What real OpenAlgo makes us do:

* an unclear answer (timeout, 5xx, a dropped connection) makes the intent UNKNOWN: it is looked up
  in the order book — whose rows carry no tag — by symbol, side and quantity, placed no earlier
  than our ``sent_at`` minus a clock-skew allowance, and never resent.  One broker order can be
  claimed by one intent only.  Not found within the resolution window → UNRESOLVED (ops settle it);
  never "not placed" by guesswork;
* a young order read as rejected or cancelled may be showing the previous order's status: it is
  read again a second later, and acted on only if the second read agrees;
* fills come from the trade book (quantity and volume-weighted price); the order status says
  neither reliably.  A cancelled order may have filled part of its quantity;
* a semi-auto answer (no order id) leaves the intent AWAITING_APPROVAL until the approved order
  shows up in the order book.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.conf import settings
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
from positions.models import IntentStatus, OrderIntent, PriceType
from positions.services.guards import sending_blocker
from positions.services.intents import intent_claim_order, intent_transition

log = structlog.get_logger(__name__)

CONFIRM_DELAYS = (0.0, 0.2, 0.5, 1.0, 1.5)  # ~3 s of polling before leaving an order to recovery
YOUNG = timedelta(seconds=5)  # a terminal read this soon after sending may be another order's status
SECOND_READ_AFTER = 1.0
CLOCK_SKEW = timedelta(seconds=2)  # broker times are whole seconds, and clocks differ a little
TRADE_LAG_GRACE = timedelta(seconds=10)  # complete, but the trade book still silent: trust the status then
TRADE_BOOK_SETTLE = 0.5  # seconds between the two trade-book reads of a cancelled order
LOOKED_UP = (IntentStatus.SENT, IntentStatus.UNKNOWN, IntentStatus.AWAITING_APPROVAL, IntentStatus.UNRESOLVED)
AT_BROKER = (*LOOKED_UP, IntentStatus.ACCEPTED)


def _timed(endpoint: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = "ok"
    try:
        return fn(*args, **kwargs)
    except BrokerError as exc:
        result = type(exc).__name__
        raise
    finally:
        metrics.broker_calls.labels(endpoint=endpoint, result=result).observe(time.perf_counter() - started)


def intent_send(*, intent: OrderIntent, broker: Broker) -> OrderIntent:
    """Send one PENDING intent exactly once and confirm it as far as the broker lets us."""
    blocker = sending_blocker(intent=intent, broker=broker)
    if blocker:
        intent_transition(intent, source=(IntentStatus.PENDING,), status=IntentStatus.CANCELLED,
                          error=f"not sent: {blocker}"[:500])
        return intent
    if not intent_transition(intent, source=(IntentStatus.PENDING,), status=IntentStatus.SENT,
                             sent_at=timezone.now(), attempts=F("attempts") + 1):
        return intent  # someone else sent it, or it was cancelled: not ours to send
    request = _request(intent, broker)
    try:
        result = _timed("place_order", broker.place_order, request)
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
    if isinstance(result, OrderAwaitingApproval):
        intent_transition(intent, source=(IntentStatus.SENT,), status=IntentStatus.AWAITING_APPROVAL,
                          pending_order_id=result.pending_id, error="awaiting the trader's approval (semi-auto)")
        alert("order_awaiting_approval", intent=intent.client_order_id, symbol=intent.symbol, action=intent.action,
              quantity=intent.quantity, pending_order_id=result.pending_id)
        return intent
    fault_point("after_broker_accept")
    fault_point(f"after_broker_accept_{intent.purpose}")  # e.g. after_broker_accept_rollover_close
    intent_claim_order(intent, order_id=result.order_id, source=(IntentStatus.SENT, IntentStatus.UNKNOWN),
                       status=IntentStatus.ACCEPTED, accepted_at=timezone.now())
    if intent.price_type == PriceType.LIMIT and intent.status == IntentStatus.ACCEPTED:
        from positions.services.chase import limit_chase

        limit_chase(intent=intent, broker=broker, confirm=_confirm_once)
    return intent_confirm(intent=intent, broker=broker)


def _request(intent: OrderIntent, broker: Broker) -> OrderRequest:
    price_type, price = PriceType.MARKET, None
    if intent.price_type == PriceType.LIMIT:
        from positions.services.chase import touch_price

        price = touch_price(intent=intent, broker=broker)
        price_type = PriceType.LIMIT if price else PriceType.MARKET  # no usable quote: go to market at once
    return OrderRequest(
        client_order_id=intent.client_order_id, symbol=intent.symbol, exchange=intent.exchange,
        action=intent.action, quantity=intent.quantity, price_type=price_type, price=price,
        reference_price=intent.reference_price,
    )


def intent_confirm(*, intent: OrderIntent, broker: Broker, delays=CONFIRM_DELAYS) -> OrderIntent:
    """Poll an ACCEPTED order until the broker reports it finished (bounded); recovery goes on later."""
    for delay in delays:
        if intent.status != IntentStatus.ACCEPTED:
            return intent
        if delay:
            time.sleep(delay)
        if _confirm_once(intent, broker):
            return intent
    return intent


def _confirm_once(intent: OrderIntent, broker: Broker) -> bool:
    """Read the order once and record a finished state; False while it is still working."""
    try:
        status = _timed("order_status", broker.order_status, intent.broker_order_id)
    except BrokerError:
        return False
    return _apply_status(intent, status, broker)


def _young(intent: OrderIntent) -> bool:
    return timezone.now() - (intent.sent_at or intent.created_at) < YOUNG


def _confirmed(intent: OrderIntent, status: OrderStatus, broker: Broker) -> bool:
    """A young rejected/cancelled read is believed only when a read a second later agrees."""
    if not _young(intent):
        return True
    time.sleep(SECOND_READ_AFTER)
    try:
        again = _timed("order_status", broker.order_status, status.order_id)
    except BrokerError:
        return False
    return again.status == status.status


def _fills(broker: Broker, order_id: str) -> tuple[int, Decimal | None]:
    """(quantity filled, volume-weighted price) of an order, from the broker's trade book."""
    trades = [t for t in _timed("trades", broker.trades, order_id) if t.order_id == order_id]
    quantity = sum(t.quantity for t in trades)
    if not quantity:
        return 0, None
    return quantity, sum(t.price * t.quantity for t in trades) / quantity


def _settled_fills(broker: Broker, status: OrderStatus) -> tuple[int | None, Decimal | None]:
    """Fills of a finished order.  A rejected order filled nothing.  A cancelled one may have filled
    part of its quantity, and the trade book lags: its count is believed when two reads agree."""
    if status.status == OrderState.REJECTED:
        return 0, None
    first = _fills(broker, status.order_id)
    if status.status == OrderState.COMPLETE:
        return first
    time.sleep(TRADE_BOOK_SETTLE)
    second = _fills(broker, status.order_id)
    return second if second[0] == first[0] else (None, None)


def _apply_status(intent: OrderIntent, status: OrderStatus, broker: Broker) -> bool:
    """Record a finished broker state on the intent; False while the order is still working."""
    source = AT_BROKER
    common = {"broker_order_id": status.order_id, "broker_status": status.status}
    if status.status in (OrderState.REJECTED, OrderState.CANCELLED) and not _confirmed(intent, status, broker):
        return False
    if status.status in OrderState.TERMINAL:
        try:
            filled, price = _settled_fills(broker, status)
        except BrokerError:
            return False
        if filled is None:
            return False  # the trade book is still catching up: read again later
        if status.status == OrderState.COMPLETE:
            if filled < intent.quantity:
                if not status.average_price or timezone.now() - (intent.sent_at or intent.created_at) < TRADE_LAG_GRACE:
                    return False  # the trade book lags the order: read again later
                filled, price = intent.quantity, Decimal(status.average_price)
            return intent_transition(intent, source=source, status=IntentStatus.FILLED, fill_price=price,
                                     filled_quantity=intent.quantity, filled_at=timezone.now(), **common)
        word = IntentStatus.REJECTED if status.status == OrderState.REJECTED and not filled else IntentStatus.CANCELLED
        return intent_transition(intent, source=source, status=word, filled_quantity=filled, fill_price=price,
                                 filled_at=timezone.now() if filled else None,
                                 error=(status.message or f"{status.status} at the broker")[:500], **common)
    if intent.status != IntentStatus.ACCEPTED or intent.broker_status != status.status:
        intent_transition(intent, source=source, status=IntentStatus.ACCEPTED,
                          accepted_at=intent.accepted_at or timezone.now(), **common)
    return False


def intent_resolve(*, intent: OrderIntent, broker: Broker, now: datetime | None = None) -> OrderIntent:
    """Find out what became of an intent that may be at the broker, without ever sending it again."""
    if intent.status == IntentStatus.ACCEPTED:
        return intent_confirm(intent=intent, broker=broker, delays=(0.0,))
    if intent.status not in LOOKED_UP:
        return intent
    try:
        book = _timed("order_book", broker.order_book)
    except BrokerError:
        _unresolved_when_overdue(intent, now or timezone.now())  # unreadable for that long: ops must look
        return intent
    for order in _candidates(intent, book):
        if intent_claim_order(intent, order_id=order.order_id, source=LOOKED_UP, status=IntentStatus.ACCEPTED,
                              accepted_at=intent.accepted_at or timezone.now()):
            _apply_status(intent, order, broker)
            return intent
    _unresolved_when_overdue(intent, now or timezone.now())
    return intent


def _candidates(intent: OrderIntent, book: list[OrderStatus]) -> list[OrderStatus]:
    """Broker orders that can be this intent's, best first: its own id when known; else the unclaimed
    orders of the same symbol, side and quantity placed no earlier than we sent it (minus the skew)."""
    if intent.broker_order_id:
        return [order for order in book if order.order_id == intent.broker_order_id]
    claimed = set(OrderIntent.objects.exclude(pk=intent.pk).exclude(broker_order_id=None)
                  .values_list("broker_order_id", flat=True))
    earliest = (intent.sent_at or intent.created_at) - CLOCK_SKEW
    found = [order for order in book
             if order.order_id not in claimed and order.symbol == intent.symbol and order.action == intent.action
             and order.quantity == intent.quantity and order.placed_at is not None and order.placed_at >= earliest]
    return sorted(found, key=lambda order: (order.placed_at, order.order_id))


def _window(intent: OrderIntent) -> timedelta:
    if intent.status == IntentStatus.AWAITING_APPROVAL:
        return timedelta(seconds=settings.PM_ORDER_APPROVAL_SECONDS)
    return timedelta(seconds=settings.PM_ORDER_RESOLUTION_SECONDS)


def _unresolved_when_overdue(intent: OrderIntent, now: datetime) -> None:
    if intent.status == IntentStatus.UNRESOLVED or now - (intent.sent_at or intent.created_at) < _window(intent):
        return
    was = intent.status
    if intent_transition(intent, source=(was,), status=IntentStatus.UNRESOLVED,
                         error=f"not found at the broker {int(_window(intent).total_seconds())}s after sending "
                               f"({was.lower()}); ops must settle it"):
        log.error("order_unresolved", client_order_id=intent.client_order_id, symbol=intent.symbol)
        alert("order_unresolved", intent=intent.client_order_id, symbol=intent.symbol, action=intent.action,
              quantity=intent.quantity, sent_at=str(intent.sent_at))
