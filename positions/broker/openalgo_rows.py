"""Turn OpenAlgo response rows into the broker interface's types.

OpenAlgo's rows are loosely typed: numbers arrive as JSON numbers or strings, statuses in either
case and in each broker's own words, and field names differ between endpoints and broker plugins.
Everything here is pure (no I/O) so it can be tested on literal rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from positions.broker.base import BrokerPosition, Contract, OrderState, OrderStatus, Quote, Trade

IST = timezone(timedelta(hours=5, minutes=30), "IST")

_STATUS_WORDS = {
    OrderState.COMPLETE: ("complete", "completed", "filled", "traded", "executed"),
    OrderState.REJECTED: ("rejected", "reject"),
    OrderState.CANCELLED: ("cancelled", "canceled", "cancel", "expired", "lapsed"),
    OrderState.PENDING: ("pending", "trigger pending", "trigger_pending", "triggerpending"),
    OrderState.OPEN: (
        "open", "open pending", "partially filled", "partial", "put order req received",
        "validation pending", "modify pending", "amo req received", "new", "received",
    ),
}
_STATUS = {word: state for state, words in _STATUS_WORDS.items() for word in words}

# Never "price": in OpenAlgo's rows that is the limit price (0 for MARKET), not a fill.
_AVERAGE_PRICE_FIELDS = ("average_price", "averageprice", "avgprice")
_FILLED_FIELDS = ("filled_quantity", "filledquantity", "filledshares", "filledqty", "filled_qty")
_TIMESTAMP_FIELDS = ("timestamp", "order_timestamp", "order_time", "updated_at")
_TIME_FORMATS = (
    "%d-%b-%Y %H:%M:%S",  # 28-Aug-2025 09:59:10 (OpenAlgo)
    "%d-%m-%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
)


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or numeric string; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def to_int(value: Any) -> int | None:
    """An integer from 5, "5", "5.0" or 5.0; None when absent, fractional or not a number."""
    number = to_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def normalise_status(value: Any) -> str:
    """Map a broker's order status to an OrderState value.

    An unrecognised status is reported as OPEN: not terminal, so callers keep looking it up
    rather than concluding anything from a word they do not know.
    """
    word = " ".join(str(value or "").strip().lower().replace("_", " ").split())
    return _STATUS.get(word, OrderState.OPEN)


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime; naive broker times are IST.  None when it cannot be read (e.g. "13:58:03")."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=IST)


def strategy_for(prefix: str, client_order_id: str, limit: int = 40) -> str:
    """The ``strategy`` text carrying our client order id (cut to ``limit`` characters)."""
    return f"{prefix}:{client_order_id}"[:limit]


def _first(row: dict, fields: tuple[str, ...]) -> Any:
    for field in fields:
        if row.get(field) not in (None, ""):
            return row[field]
    return None


def _average_price(row: dict) -> Decimal | None:
    for field in _AVERAGE_PRICE_FIELDS:
        price = to_decimal(row.get(field))
        if price is not None and price > 0:
            return price
    return None


def order_from_row(row: dict, *, order_id: str | None = None) -> OrderStatus:
    """An OrderStatus from one orderstatus/orderbook row.

    OpenAlgo's rows carry no filled quantity (None unless a broker plugin adds one), no tag, and
    an average price only in ``orderstatus`` (0 while the trade book lags: None here).
    """
    explicit_filled = _first(row, _FILLED_FIELDS)
    return OrderStatus(
        order_id=str(row.get("orderid") or row.get("order_id") or order_id or ""),
        status=normalise_status(_first(row, ("order_status", "status", "orderstatus"))),
        symbol=str(_first(row, ("symbol", "tradingsymbol")) or ""),
        exchange=str(row.get("exchange") or ""),
        action=str(row.get("action") or row.get("transaction_type") or "").upper(),
        quantity=to_int(_first(row, ("quantity", "qty"))) or 0,
        filled_quantity=None if explicit_filled is None else to_int(explicit_filled),
        average_price=_average_price(row),
        placed_at=parse_timestamp(_first(row, _TIMESTAMP_FIELDS)),
        message=str(_first(row, ("rejection_reason", "rejectreason", "message", "text")) or ""),
    )


def orders_from_book(data: Any) -> list[OrderStatus]:
    """Orderbook ``data``: a list of rows, or ``{"orders": [...]}``; empty/None means no orders."""
    if isinstance(data, dict):
        data = data.get("orders")
    if not data:
        return []
    if not isinstance(data, list):
        raise ValueError("orderbook data is neither a list nor {'orders': [...]}")
    return [order_from_row(row) for row in data if isinstance(row, dict)]


def positions_from_book(data: Any) -> list[BrokerPosition]:
    """Positionbook rows with a non-zero net quantity."""
    if not data:
        return []
    if not isinstance(data, list):
        raise ValueError("positionbook data is not a list")
    positions = []
    for row in data:
        if not isinstance(row, dict):
            continue
        quantity = to_int(_first(row, ("quantity", "netqty", "net_quantity")))
        if not quantity:
            continue
        price = to_decimal(_first(row, ("average_price", "averageprice", "netavgprice", "avgprice")))
        positions.append(
            BrokerPosition(
                symbol=str(_first(row, ("symbol", "tradingsymbol")) or ""),
                exchange=str(row.get("exchange") or ""),
                net_quantity=quantity,
                average_price=price if price else None,
                product=str(row.get("product") or "NRML"),
            )
        )
    return positions


def quote_from_data(data: Any, *, symbol: str, exchange: str) -> Quote:
    if not isinstance(data, dict):
        raise ValueError("quotes data is not an object")
    ltp = to_decimal(_first(data, ("ltp", "last_price", "lastprice")))
    if ltp is None:
        raise ValueError("quote without ltp")
    bid = to_decimal(_first(data, ("bid", "best_bid_price", "bidprice")))
    ask = to_decimal(_first(data, ("ask", "best_ask_price", "askprice")))
    return Quote(
        symbol=symbol,
        exchange=exchange,
        ltp=ltp,
        bid=bid if bid and bid > 0 else None,
        ask=ask if ask and ask > 0 else None,
    )


def trades_from_book(data: Any, *, order_id: str | None = None) -> list[Trade]:
    """Tradebook rows, one per fill (only ``order_id``'s, when given).  A row that cannot be read
    fails the whole read (ValueError): leaving a fill out would understate what the broker holds."""
    if not data:
        return []
    if not isinstance(data, list):
        raise ValueError("tradebook data is not a list")
    trades = []
    for row in data:
        if not isinstance(row, dict):
            raise ValueError("tradebook row is not an object")
        row_order = str(row.get("orderid") or row.get("order_id") or "")
        if order_id is not None and row_order != str(order_id):
            continue
        quantity = to_int(_first(row, ("quantity", "qty", "filled_quantity")))
        price = to_decimal(_first(row, ("average_price", "averageprice", "trade_price", "price")))
        if not row_order or not quantity or quantity <= 0 or price is None or price <= 0:
            raise ValueError(f"tradebook row for order {row_order or '?'} lacks an order id, quantity or price")
        trades.append(Trade(
            order_id=row_order,
            symbol=str(_first(row, ("symbol", "tradingsymbol")) or ""),
            exchange=str(row.get("exchange") or ""),
            action=str(row.get("action") or row.get("transaction_type") or "").upper(),
            quantity=quantity,
            price=price,
            traded_at=parse_timestamp(_first(row, ("timestamp", "fill_timestamp", "trade_time"))),
        ))
    return trades


def contract_from_data(data: Any, *, symbol: str, exchange: str) -> Contract:
    """``/symbol`` data: the lot size (in the broker's order quantity units) and tick size."""
    if not isinstance(data, dict):
        raise ValueError("symbol data is not an object")
    lot_size = to_int(data.get("lotsize"))
    if lot_size is None or lot_size <= 0:
        raise ValueError(f"symbol data without a positive lotsize ({data.get('lotsize')!r})")
    tick = to_decimal(data.get("tick_size"))
    return Contract(symbol=str(data.get("symbol") or symbol), exchange=str(data.get("exchange") or exchange),
                    lot_size=lot_size, tick_size=tick if tick and tick > 0 else None)


def analyzer_from_data(data: Any) -> bool:
    """``/analyzer`` data: ``analyze_mode`` true/false (or ``mode`` "analyze"/"live")."""
    if isinstance(data, dict):
        flag = data.get("analyze_mode")
        if isinstance(flag, bool):
            return flag
        mode = str(data.get("mode") or "").lower()
        if mode in ("analyze", "live"):
            return mode == "analyze"
    raise ValueError("analyzer data says neither analyze nor live")
