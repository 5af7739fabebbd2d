"""Base-entry and pyramid sizing (DESIGN §7; domain-notes §3)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.params import ALL_MONTHS, InstrumentParams, floor_lots, to_decimal
from portfolio.sizing import size_base_entry, size_pyramid
from tests.rules_fixtures import BANK_NIFTY, COPPER, GOLD_MINI

D = Decimal
MARGIN_LIMIT = D("60")


def exact_quotient(numerator, denominator) -> Decimal:
    with localcontext() as context:
        context.prec = 60
        return D(numerator) / D(denominator)


def base(params=BANK_NIFTY, **overrides):
    values = {
        "params": params,
        "equity_high": D("5000000"),
        "price": D("52000"),
        "stop": D("51650"),
        "atr": D("350"),
        "er": D("0.82"),
        "margin_in_use": D("0"),
        "margin_limit_percent": MARGIN_LIMIT,
    }
    return size_base_entry(**{**values, **overrides})


def pyramid(params=BANK_NIFTY, **overrides):
    values = {
        "params": params,
        "equity_high": D("5000000"),
        "price": D("51500"),
        "stop": D("51000"),
        "layer": 2,
        "base_lots": 10,
        "base_entry_price": D("50000"),
        "base_initial_stop": D("49475"),
        "margin_in_use": D("0"),
        "margin_limit_percent": MARGIN_LIMIT,
    }
    return size_pyramid(**{**values, **overrides})


# --- base entry -----------------------------------------------------------------------------------


def test_bank_nifty_worked_example_gives_3_lots_limited_by_risk():
    result = base()
    # 5,000,000 × 1 % / (350 × 30) × 0.82, one exact division
    assert result.constraints["risk"] == exact_quotient(5_000_000 * D("0.01") * D("0.82"), 350 * 30)
    assert result.constraints["risk"].quantize(D("0.001")) == D("3.905")
    assert result.constraints["margin"] == exact_quotient(3_000_000, 270_000)
    assert result.lots == 3
    assert result.limiter == "risk"


def test_volatility_constraint_absent_when_switched_off():
    assert list(base().constraints) == ["risk", "margin"]


def test_volatility_constraint_applies_when_switched_on():
    result = base(params=dataclasses.replace(BANK_NIFTY, use_vol_constraint=True))
    assert list(result.constraints) == ["risk", "volatility", "margin"]
    assert result.constraints["volatility"] == exact_quotient(25_000, 350 * 30)  # 2.38
    assert (result.lots, result.limiter) == (2, "volatility")


def test_zero_atr_with_volatility_on_gives_zero_lots():
    result = base(params=dataclasses.replace(BANK_NIFTY, use_vol_constraint=True), atr=D("0"))
    assert (result.lots, result.limiter, result.constraints["volatility"]) == (0, "volatility", 0)


def test_constraint_of_exactly_three_lots_gives_three_where_float_gives_two():
    # 30,000 × 1 % × 0.7 / (7 × 10) is exactly 3; the same sum in floats is 2.9999999999999996.
    params = dataclasses.replace(GOLD_MINI, margin_per_lot=D("1000"))
    result = base(params=params, equity_high=D("30000"), price=D("100"), stop=D("93"), er=D("0.7"))
    assert 30000 * 1.0 / 100 / (7 * 10) * 0.7 < 3
    assert result.constraints["risk"] == 3
    assert (result.lots, result.limiter) == (3, "risk")


def test_margin_constraint_of_exactly_three_lots():
    result = base(params=COPPER, equity_high=D("1500000"), price=D("800"), stop=D("799"), er=D("1"))
    assert result.constraints["margin"] == 3
    assert (result.lots, result.limiter) == (3, "margin")


@pytest.mark.parametrize("stop", [D("52000"), D("52100")])
def test_stop_at_or_above_price_gives_zero_lots_limited_by_risk(stop):
    result = base(stop=stop)
    assert (result.lots, result.limiter, result.constraints["risk"]) == (0, "risk", 0)


@pytest.mark.parametrize("er", [D("0"), D("-0.4")])
def test_non_positive_er_gives_zero_lots(er):
    result = base(er=er)
    assert (result.lots, result.limiter) == (0, "risk")


def test_zero_lots_reports_margin_limiter_when_margin_is_used_up():
    result = base(margin_in_use=D("3000000"))
    assert (result.lots, result.limiter, result.constraints["margin"]) == (0, "margin", 0)


def test_bug_46_free_margin_subtracts_margin_in_use():
    # 60 % of 50 L = 30 L allowed; 24.6 L already in use leaves 5.4 L = 2 BN lots.
    result = base(margin_in_use=D("2460000"), er=D("1"), stop=D("51900"))
    assert result.constraints["margin"] == 2
    assert (result.lots, result.limiter) == (2, "margin")


def test_tie_goes_to_the_earlier_constraint():
    # risk = 1,500,000 × 1 % / (5 × 1000) = 3 = margin (900,000 / 300,000)
    params = dataclasses.replace(COPPER, point_value=D("1000"))
    result = base(params=params, equity_high=D("1500000"), price=D("105"), stop=D("100"), er=D("1"))
    assert result.constraints == {"risk": 3, "margin": 3}
    assert result.limiter == "risk"


def test_as_detail_is_json_ready():
    detail = base().as_detail()
    assert detail == {
        "lots": 3,
        "limiter": "risk",
        "constraints": {"risk": "3.904762", "margin": "11.111111"},
    }


def test_floats_are_refused():
    with pytest.raises(TypeError):
        base(price=52000.0)


# --- pyramids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("layer", "lots"), [(2, 5), (3, 2), (4, 1), (5, 0)])
def test_geometric_halving_of_ten_base_lots(layer, lots):
    result = pyramid(layer=layer, price=D("60000"), stop=D("59999"))
    assert result.constraints["geometric"] == D(10) / D(2 ** (layer - 1))
    assert (result.lots, result.limiter) == (lots, "geometric")


def test_pyramid_risk_budget_is_half_the_profit_beyond_base_risk():
    result = pyramid()
    # profit 1500 × 10 × 30 = 450,000; base risk 525 × 10 × 30 = 157,500; half the rest = 146,250
    assert result.constraints["risk_budget"] == exact_quotient(146_250, 500 * 30)  # 9.75
    assert list(result.constraints) == ["margin", "geometric", "risk_budget"]
    assert (result.lots, result.limiter) == (5, "geometric")


def test_pyramid_limited_by_risk_budget():
    # profit 1100 × 300 = 330,000 − base risk 157,500 = 172,500; half = 86,250 to risk at
    # (51100 − 49000) × 30 = 63,000 per lot → 1.37 lots
    result = pyramid(price=D("51100"), stop=D("49000"))
    assert result.constraints["risk_budget"] == exact_quotient(86_250, 2100 * 30)
    assert (result.lots, result.limiter) == (1, "risk_budget")


def test_pyramid_without_profit_beyond_base_risk_gets_zero_lots():
    result = pyramid(price=D("50525"), stop=D("50000"))
    assert (result.lots, result.limiter, result.constraints["risk_budget"]) == (0, "risk_budget", 0)


def test_pyramid_stop_at_price_gives_zero_risk_budget():
    result = pyramid(stop=D("51500"))
    assert (result.lots, result.limiter) == (0, "risk_budget")


def test_pyramid_limited_by_free_margin():
    result = pyramid(margin_in_use=D("2700000"))  # 3,000,000 − 2,700,000 = 300,000 → 1.11 lots
    assert (result.lots, result.limiter) == (1, "margin")


def test_layer_below_two_is_not_a_pyramid():
    with pytest.raises(ValueError):
        pyramid(layer=1)


# --- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"contract_kind": "options"},
        {"expiry_rule": "last_thursday"},
        {"contract_months": ()},
        {"contract_months": (0, 13)},
        {"point_value": D("0")},
        {"margin_per_lot": D("-1")},
        {"strike_step": None},
        {"symbol_root": "BANK NIFTY"},
    ],
)
def test_invalid_instrument_params_are_refused(change):
    with pytest.raises(ValueError):
        dataclasses.replace(BANK_NIFTY, **change)


def test_to_decimal_and_floor_lots():
    assert to_decimal(3) == D(3) and isinstance(to_decimal(3), Decimal)
    with pytest.raises(TypeError):
        to_decimal(True)
    assert floor_lots(D("2.999")) == 2
    assert floor_lots(D("-0.5")) == 0
    assert isinstance(BANK_NIFTY, InstrumentParams) and BANK_NIFTY.contract_months == ALL_MONTHS


# --- properties -----------------------------------------------------------------------------------

money = st.decimals(min_value=-1_000_000, max_value=50_000_000, places=2, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=1, max_value=200_000, places=2, allow_nan=False, allow_infinity=False)
small = st.decimals(min_value=-2, max_value=5_000, places=4, allow_nan=False, allow_infinity=False)


def assert_within_constraints(result):
    assert result.lots >= 0
    assert all(result.lots <= value for value in result.constraints.values())
    assert all(value >= 0 for value in result.constraints.values())
    smallest = min(result.constraints.values())
    assert result.constraints[result.limiter] == smallest
    assert result.lots == floor_lots(smallest)


@given(
    params=st.sampled_from([BANK_NIFTY, GOLD_MINI, dataclasses.replace(COPPER, use_vol_constraint=True)]),
    equity_high=money,
    price=prices,
    stop=prices,
    atr=small,
    er=st.decimals(min_value=-1, max_value=1, places=3),
    margin_in_use=money,
)
def test_base_sizing_never_exceeds_a_constraint_nor_goes_negative(params, **values):
    assert_within_constraints(size_base_entry(params=params, margin_limit_percent=MARGIN_LIMIT, **values))


@given(
    params=st.sampled_from([BANK_NIFTY, GOLD_MINI, COPPER]),
    equity_high=money,
    price=prices,
    stop=prices,
    layer=st.integers(min_value=2, max_value=6),
    base_lots=st.integers(min_value=0, max_value=200),
    base_entry_price=prices,
    base_initial_stop=prices,
    margin_in_use=money,
)
def test_pyramid_sizing_never_exceeds_a_constraint_nor_goes_negative(params, **values):
    assert_within_constraints(size_pyramid(params=params, margin_limit_percent=MARGIN_LIMIT, **values))
