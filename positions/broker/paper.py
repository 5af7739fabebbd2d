"""The paper broker: fills every order at once at a simulated price and keeps its own book in the
database (``PaperOrder``, ``PaperPosition``), so it survives restarts and can be reconciled exactly
like a real broker.  It behaves like one in the ways that matter: it accepts duplicate orders (our
outbox must prevent them) and reports orders by id and by our tag.  Every order fills whole at
once, so nothing ever rests: a cancel finds the order finished, and a modify is refused.  Its
contracts are the instruments' (lot size = ``order_quantity_per_lot``); it is never a sandbox.

Prices: a future fills at the reference (signal) price; an option at its intrinsic value against the
reference underlying price plus a fixed time value, the same for PE and CE, so a synthetic long
(strike + CE − PE) fills exactly at the signal price.  Optional slippage moves every fill against us.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction

from portfolio.models import Instrument
from positions.broker.base import (
    BrokerOrderNotFound,
    BrokerPosition,
    BrokerRejected,
    Contract,
    OrderAccepted,
    OrderRequest,
    OrderState,
    OrderStatus,
    Quote,
    Trade,
)
from positions.models import PaperOrder, PaperOrderStatus, PaperPosition
from positions.symbols import parse_symbol

FOUR_PLACES = Decimal("0.0001")


class PaperBroker:
    name = "paper"

    def __init__(self, *, slippage_percent: Decimal = Decimal("0"), option_time_value: Decimal = Decimal("150")):
        self.slippage = Decimal(slippage_percent) / 100
        self.time_value = Decimal(option_time_value)

    def fill_price(self, request: OrderRequest) -> Decimal:
        if request.price_type == "LIMIT":
            if not request.price or request.price <= 0:
                raise BrokerRejected("LIMIT order needs a positive price")
            return Decimal(request.price)
        if request.reference_price is None or request.reference_price <= 0:
            raise BrokerRejected("paper broker needs a reference price for a MARKET order")
        underlying = Decimal(request.reference_price)
        try:
            parsed = parse_symbol(request.symbol)
        except ValueError:
            raise BrokerRejected(f"unknown symbol {request.symbol}") from None
        if parsed.kind == "FUT":
            base = underlying
        elif parsed.kind == "CE":
            base = max(Decimal(0), underlying - parsed.strike) + self.time_value
        else:
            base = max(Decimal(0), parsed.strike - underlying) + self.time_value
        direction = 1 if request.action == "BUY" else -1
        return (base * (1 + direction * self.slippage)).quantize(FOUR_PLACES)

    def place_order(self, request: OrderRequest) -> OrderAccepted:
        if request.quantity <= 0:
            raise BrokerRejected("quantity must be positive")
        if request.action not in ("BUY", "SELL"):
            raise BrokerRejected(f"unknown action {request.action}")
        price = self.fill_price(request)
        order_id = f"PAPER-{uuid.uuid4().hex[:16]}"
        with transaction.atomic():
            PaperOrder.objects.create(
                order_id=order_id, tag=request.client_order_id, symbol=request.symbol, exchange=request.exchange,
                action=request.action, quantity=request.quantity, price_type=request.price_type,
                average_price=price, status=PaperOrderStatus.COMPLETE,
            )
            self._apply_fill(request, price)
        return OrderAccepted(order_id=order_id)

    def _apply_fill(self, request: OrderRequest, price: Decimal) -> None:
        holding, _ = PaperPosition.objects.select_for_update().get_or_create(
            symbol=request.symbol, exchange=request.exchange
        )
        signed = request.quantity if request.action == "BUY" else -request.quantity
        old, new = holding.net_quantity, holding.net_quantity + signed
        if new == 0:
            holding.average_price = Decimal("0")
        elif old == 0 or (old > 0) != (new > 0):
            holding.average_price = price  # opening, or flipping through zero
        elif (old > 0) == (signed > 0):
            weighted = holding.average_price * abs(old) + price * abs(signed)
            holding.average_price = (weighted / abs(new)).quantize(FOUR_PLACES)
        holding.net_quantity = new
        holding.save()

    def _status(self, order: PaperOrder) -> OrderStatus:
        return OrderStatus(
            order_id=order.order_id, status=order.status, symbol=order.symbol, exchange=order.exchange,
            action=order.action, quantity=order.quantity,
            filled_quantity=order.quantity if order.status == OrderState.COMPLETE else 0,
            average_price=order.average_price, tag=order.tag or None, placed_at=order.created_at,
            message=order.message,
        )

    def _order(self, order_id: str) -> PaperOrder:
        order = PaperOrder.objects.filter(order_id=order_id).first()
        if order is None:
            raise BrokerOrderNotFound(f"order {order_id} does not exist")
        return order

    def order_status(self, order_id: str) -> OrderStatus:
        return self._status(self._order(order_id))

    def cancel_order(self, order_id: str) -> None:
        """Paper orders are finished the moment they are placed: nothing is left to cancel."""
        self._order(order_id)

    def modify_order(self, order_id: str, *, symbol: str, exchange: str, action: str, quantity: int,
                     price_type: str, price: Decimal | None) -> None:
        order = self._order(order_id)
        raise BrokerRejected(f"order {order_id} is {order.status}: paper orders never rest, so cannot be modified")

    def order_book(self) -> list[OrderStatus]:
        return [self._status(order) for order in PaperOrder.objects.order_by("id")]

    def trades(self, order_id: str | None = None) -> list[Trade]:
        """One trade per filled order, at its fill price."""
        filled = PaperOrder.objects.filter(status=PaperOrderStatus.COMPLETE)
        if order_id is not None:
            filled = filled.filter(order_id=order_id)
        return [
            Trade(order_id=o.order_id, symbol=o.symbol, exchange=o.exchange, action=o.action,
                  quantity=o.quantity, price=o.average_price, traded_at=o.created_at)
            for o in filled.order_by("id")
        ]

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(symbol=p.symbol, exchange=p.exchange, net_quantity=p.net_quantity,
                           average_price=p.average_price)
            for p in PaperPosition.objects.exclude(net_quantity=0).order_by("exchange", "symbol")
        ]

    def quote(self, symbol: str, exchange: str) -> Quote:
        position = PaperPosition.objects.filter(symbol=symbol, exchange=exchange).first()
        price = position.average_price if position and position.average_price else Decimal("0")
        return Quote(symbol=symbol, exchange=exchange, ltp=price)

    def contract(self, symbol: str, exchange: str) -> Contract:
        """The instrument's contract: lot size = its ``order_quantity_per_lot``."""
        try:
            root = parse_symbol(symbol).root
        except ValueError:
            raise BrokerRejected(f"unknown symbol {symbol}") from None
        instrument = Instrument.objects.filter(symbol_root=root, exchange=exchange).order_by("code").first()
        if instrument is None:
            raise BrokerRejected(f"no instrument trades {symbol} on {exchange}")
        return Contract(symbol=symbol, exchange=exchange, lot_size=instrument.order_quantity_per_lot,
                        tick_size=instrument.tick_size)

    def analyzer_mode(self) -> bool:
        return False

    def ping(self) -> None:
        PaperOrder.objects.exists()  # the paper broker is as available as the database
