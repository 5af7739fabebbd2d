"""What must hold before an order may leave (DESIGN §15.1, §15.3): the exchange is in session, the
broker is in the mode we expect, and it counts the contract's quantity in the unit we send.  Any of
them failing means nothing is sent.

* Analyzer mode: OpenAlgo's sandbox answers with simulated fills; booking those as real would be a
  lie, and live orders in a sandbox that ops expect would be one too.  Read at most once a minute.
* Lot size: each contract's lot size is read from the broker (``/symbol``) before its first order and
  kept (``BrokerContract``); it must equal the instrument's broker quantity per lot.  MCX may be
  counted in lots or in units (``OPENALGO_MCX_QUANTITY``): in lots the lot size is 1.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core.alerts import alert
from portfolio.selectors import next_market_open
from positions.broker import Broker, BrokerError
from positions.models import BrokerContract, OrderIntent

ANALYZER_CHECK_SECONDS = 60


def analyzer_blocker(broker: Broker) -> str | None:
    """Why orders must not go to this broker now, as far as its mode is concerned (None: they may)."""
    if broker.name != "openalgo":
        return None

    def read() -> str:
        try:
            return "on" if broker.analyzer_mode() else "off"
        except BrokerError as exc:
            return f"unknown ({exc})"

    mode = cache.get_or_set("broker:analyzer_mode", read, ANALYZER_CHECK_SECONDS)
    expected = "on" if settings.PM_OPENALGO_EXPECT_ANALYZER else "off"
    if mode == expected:
        return None
    alert("broker_mode_unexpected", every=300, analyzer=mode, expected=expected)
    return f"broker_unavailable: analyzer mode is {mode}, expected {expected}"


def expected_lot_size(exchange: str, order_quantity_per_lot: int) -> int:
    """The broker lot size our quantities assume for a contract of this instrument."""
    if exchange == "MCX" and settings.PM_OPENALGO_MCX_QUANTITY == "lots":
        return 1
    return order_quantity_per_lot


def contract_lot_size(*, broker: Broker, symbol: str, exchange: str) -> int:
    """The broker's lot size of a contract, read once and kept."""
    known = BrokerContract.objects.filter(symbol=symbol, exchange=exchange).values_list("lot_size", flat=True).first()
    if known is not None:
        return known
    contract = broker.contract(symbol, exchange)
    BrokerContract.objects.update_or_create(symbol=symbol, exchange=exchange, defaults={"lot_size": contract.lot_size})
    return contract.lot_size


def session_blocker(exchange: str) -> str | None:
    """``market_closed`` outside the exchange's session (while sessions are enforced, DESIGN §15.3)."""
    now = timezone.now()
    opens = next_market_open(exchange, now)
    return None if opens == now else f"market_closed: {exchange} opens at {opens.isoformat()}"


def sending_blocker(*, intent: OrderIntent, broker: Broker) -> str | None:
    """Why this intent must not be sent (None: it may): the exchange's session, the broker's mode, or
    its lot size."""
    blocker = session_blocker(intent.exchange) or analyzer_blocker(broker)
    if blocker:
        return blocker
    instrument = intent.position.instrument
    try:
        broker_lot = contract_lot_size(broker=broker, symbol=intent.symbol, exchange=intent.exchange)
    except BrokerError as exc:
        return f"broker_unavailable: contract {intent.symbol} could not be read ({exc})"[:300]
    ours = expected_lot_size(intent.exchange, instrument.order_quantity_per_lot)
    if broker_lot != ours or (intent.exchange == "MCX" and ours != instrument.order_quantity_per_lot):
        alert("lot_size_mismatch", every=300, symbol=intent.symbol, broker_lot=broker_lot,
              order_quantity_per_lot=instrument.order_quantity_per_lot, mcx=settings.PM_OPENALGO_MCX_QUANTITY)
        return (f"lot_size_mismatch: the broker's lot of {intent.symbol} is {broker_lot}, we send "
                f"{instrument.order_quantity_per_lot} per lot (MCX counted in {settings.PM_OPENALGO_MCX_QUANTITY})")
    return None


def lot_size_mismatches() -> list[dict]:
    """Contracts whose broker lot size (as read before their first order) differs from what our
    instrument sends: {symbol, exchange, instrument, broker_lot, order_quantity_per_lot}."""
    from portfolio.models import Instrument
    from positions.symbols import parse_symbol

    instruments = {(i.symbol_root, i.exchange): i for i in Instrument.objects.all()}
    found = []
    for contract in BrokerContract.objects.order_by("exchange", "symbol"):
        try:
            instrument = instruments.get((parse_symbol(contract.symbol).root, contract.exchange))
        except ValueError:
            continue
        if instrument is None:
            continue
        ours = expected_lot_size(contract.exchange, instrument.order_quantity_per_lot)
        if contract.lot_size != ours or (contract.exchange == "MCX" and ours != instrument.order_quantity_per_lot):
            found.append({"symbol": contract.symbol, "exchange": contract.exchange, "instrument": instrument.code,
                          "broker_lot": contract.lot_size, "order_quantity_per_lot": instrument.order_quantity_per_lot})
    return found
