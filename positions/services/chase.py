"""The LIMIT_CHASE execution style (DESIGN §15.1): a limit order at the touch (our side of the book),
moved to the new touch every ``chase_seconds`` up to ``chase_attempts`` times, then made a market
order.  Every move is recorded on the intent."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import structlog

from positions.broker import Broker, BrokerError
from positions.models import IntentStatus, OrderIntent, PriceType
from positions.services.intents import intent_note_modification

log = structlog.get_logger(__name__)
POLL = 0.5


def touch_price(*, intent: OrderIntent, broker: Broker) -> Decimal | None:
    """Best bid to buy, best ask to sell (the last price when the book side is empty); None when the
    broker has no usable quote."""
    try:
        quote = broker.quote(intent.symbol, intent.exchange)
    except BrokerError:
        return None
    price = quote.bid if intent.action == "BUY" else quote.ask
    price = price if price and price > 0 else quote.ltp
    return price if price and price > 0 else None


def limit_chase(*, intent: OrderIntent, broker: Broker, confirm: Callable[[OrderIntent, Broker], bool]) -> None:
    """Chase an accepted limit order until it finishes or the attempts run out, then go to market."""
    instrument = intent.position.instrument
    for _ in range(instrument.chase_attempts):
        if _finished_within(intent, broker, confirm, seconds=instrument.chase_seconds):
            return
        price = touch_price(intent=intent, broker=broker)
        if price is None:
            break
        if _modify(intent, broker, price_type=PriceType.LIMIT, price=price):
            intent_note_modification(intent, change={"price": str(price)})
    if not _finished_within(intent, broker, confirm, seconds=0) and _modify(
            intent, broker, price_type=PriceType.MARKET, price=None):
        intent_note_modification(intent, change={"price_type": PriceType.MARKET})


def _finished_within(intent, broker, confirm, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if intent.status != IntentStatus.ACCEPTED or confirm(intent, broker):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL)


def _modify(intent: OrderIntent, broker: Broker, *, price_type: str, price: Decimal | None) -> bool:
    try:
        broker.modify_order(intent.broker_order_id, symbol=intent.symbol, exchange=intent.exchange,
                            action=intent.action, quantity=intent.quantity, price_type=price_type, price=price)
    except BrokerError as exc:  # finished meanwhile, or the broker refused: confirmation tells which
        log.info("limit_chase_modify_failed", client_order_id=intent.client_order_id, error=str(exc)[:200])
        return False
    return True
