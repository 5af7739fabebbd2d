"""The fake OpenAlgo's switches.  Defaults are FAITHFUL (real OpenAlgo + Zerodha); friendlier
behaviour exists only by explicit switches (``friendly=True`` sets all of ``FRIENDLY`` at once).

Switch                   faithful default  friendly  meaning
sessions                 True              False     orders outside the exchange session -> 400
strict_fields            True              False     unknown request fields -> 400 (marshmallow)
strict_symbols           True              False     unknown contract -> placeorder 400, /symbol 404;
                                                     quantity must be a multiple of the lot size
echo_strategy            False             True      book/status rows carry our ``strategy``
book_average_price       False             True      book/status rows carry the fills' VWAP
                                                     ``average_price`` (no lag, any status)
instant_fills            False             True      every order fills whole at once (LIMIT at
                                                     its limit price); no random partial fills
trade_lag_reads          1                 0         trade-book reads that miss a new fill
trade_lag_seconds        0.0               0.0       ... and seconds before a read sees it
transient_rate           0.1               0.0       share of orders that are in a transient
                                                     broker state while young
transient_window         0.5               0.5       seconds an order stays young
cancel_finished_status   500               400       cancelorder of a complete/cancelled/rejected order
order_rate_limit         10                None      placeorder/modifyorder/cancelorder per second
api_rate_limit           50                None      other endpoints per second (per endpoint)
Modes and chaos (not about friendliness, unaffected by ``friendly``):
mcx_quantity             "lots"                      "lots" (MCX lot size 1) or "units"
semi_auto                False                       placeorder queues for approval, no orderid
analyzer                 False                       orders go to the sandbox book
lost_answer_rate         0.0                         share of placeorders accepted then hung up on
partial_fill_rate        0.0                         share of orders filled part now, rest later
partial_fill_delay       0.5                         seconds until the rest of such an order fills
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from tests.fakes.openalgo_rules import MCX_QUANTITY_MODES


@dataclass
class FakeConfig:
    sessions: bool = True
    strict_fields: bool = True
    strict_symbols: bool = True
    echo_strategy: bool = False
    book_average_price: bool = False
    instant_fills: bool = False
    trade_lag_reads: int = 1
    trade_lag_seconds: float = 0.0
    transient_rate: float = 0.1
    transient_window: float = 0.5
    cancel_finished_status: int = 500
    order_rate_limit: int | None = 10
    api_rate_limit: int | None = 50
    mcx_quantity: str = "lots"
    semi_auto: bool = False
    analyzer: bool = False
    lost_answer_rate: float = 0.0
    partial_fill_rate: float = 0.0
    partial_fill_delay: float = 0.5

    def as_dict(self) -> dict:
        return asdict(self)


FRIENDLY: dict[str, Any] = {
    "sessions": False, "strict_fields": False, "strict_symbols": False, "echo_strategy": True,
    "book_average_price": True, "instant_fills": True, "trade_lag_reads": 0, "trade_lag_seconds": 0.0,
    "transient_rate": 0.0, "cancel_finished_status": 400, "order_rate_limit": None, "api_rate_limit": None,
}
SWITCHES = tuple(f.name for f in fields(FakeConfig))
_BOOLS = {"sessions", "strict_fields", "strict_symbols", "echo_strategy", "book_average_price",
          "instant_fills", "semi_auto", "analyzer"}
_RATES = {"transient_rate", "lost_answer_rate", "partial_fill_rate"}
_SECONDS = {"trade_lag_seconds", "transient_window", "partial_fill_delay"}


def make_config(*, friendly: bool = False, **switches: Any) -> FakeConfig:
    config = FakeConfig()
    if friendly:
        apply(config, FRIENDLY)
    apply(config, switches)
    return config


def apply(config: FakeConfig, switches: dict[str, Any]) -> None:
    """Set switches after checking every one (nothing changes when one is wrong)."""
    checked = {name: _check(name, value) for name, value in switches.items()}
    for name, value in checked.items():
        setattr(config, name, value)


def _check(name: str, value: Any) -> Any:
    if name not in SWITCHES:
        raise ValueError(f"unknown switch {name!r} (known: {', '.join(SWITCHES)})")
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name == "mcx_quantity":
        if value not in MCX_QUANTITY_MODES:
            raise ValueError(f"mcx_quantity must be one of {MCX_QUANTITY_MODES}")
        return value
    if name == "cancel_finished_status":
        if value not in (400, 500):
            raise ValueError("cancel_finished_status must be 400 or 500")
        return value
    if name in ("order_rate_limit", "api_rate_limit"):
        if value is None or value == 0:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a positive integer or null")
        return value
    if name == "trade_lag_reads":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("trade_lag_reads must be an integer >= 0")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    if name in _RATES and value > 1:
        raise ValueError(f"{name} must be between 0 and 1")
    assert name in _SECONDS | _RATES
    return float(value)
