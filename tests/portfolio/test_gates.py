"""Portfolio caps and pyramid gates (DESIGN §7, Appendix A; domain-notes §3.4, §4)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from portfolio.gates import new_position_risk, new_position_vol, portfolio_gate, pyramid_gates
from portfolio.params import PortfolioParams
from portfolio.sizing import size_pyramid
from tests.rules_fixtures import BANK_NIFTY

D = Decimal
LIMITS = PortfolioParams()


def gate(**overrides):
    values = {
        "new_risk": D("50000"),
        "new_vol": D("10000"),
        "existing_risk": D("100000"),
        "existing_vol": D("20000"),
        "blended_equity": D("1000000"),
        "max_risk_percent": LIMITS.max_risk_percent,
        "max_vol_percent": LIMITS.max_vol_percent,
    }
    return {c.check: c for c in portfolio_gate(**{**values, **overrides})}


def pyramid_checks(**overrides):
    values = {
        "price": D("51000"),
        "atr": D("400"),
        "base_entry_price": D("50000"),
        "base_initial_stop": D("49400"),
        "last_entry_price": D("50500"),
        "instrument_open_pnl": D("30000"),
        "pyramids_since_base": 1,
        "max_pyramids": 5,
        "spacing_atr": D("0.5"),
    }
    return pyramid_gates(**{**values, **overrides})


def by_name(checks):
    return {c.check: c.passed for c in checks}


# --- portfolio gate -------------------------------------------------------------------------------


def test_portfolio_gate_returns_risk_then_vol():
    checks = portfolio_gate(
        new_risk=D("1"), new_vol=D("1"), existing_risk=D("0"), existing_vol=D("0"),
        blended_equity=D("1000000"), max_risk_percent=D("15"), max_vol_percent=D("5"),
    )
    assert [c.check for c in checks] == ["portfolio_risk", "portfolio_vol"]
    assert all(c.passed for c in checks)


def test_portfolio_risk_of_exactly_15_percent_passes():
    checks = gate(existing_risk=D("100000"), new_risk=D("50000"))
    assert checks["portfolio_risk"].passed
    assert checks["portfolio_risk"].detail["projected_percent"] == "15"


def test_portfolio_risk_a_paisa_above_15_percent_fails():
    assert not gate(new_risk=D("50000.01"))["portfolio_risk"].passed


def test_portfolio_vol_of_exactly_5_percent_passes_and_above_fails():
    assert gate(existing_vol=D("40000"), new_vol=D("10000"))["portfolio_vol"].passed
    assert not gate(existing_vol=D("40000"), new_vol=D("10000.01"))["portfolio_vol"].passed


def test_pyramid_caps_of_exactly_12_and_4_percent_pass():
    pyramid_caps = {
        "max_risk_percent": LIMITS.pyramid_max_risk_percent,
        "max_vol_percent": LIMITS.pyramid_max_vol_percent,
    }
    at_caps = gate(new_risk=D("20000"), new_vol=D("20000"), **pyramid_caps)
    assert at_caps["portfolio_risk"].passed and at_caps["portfolio_vol"].passed
    over = gate(new_risk=D("20000.01"), new_vol=D("20000.01"), **pyramid_caps)
    assert not over["portfolio_risk"].passed and not over["portfolio_vol"].passed


@pytest.mark.parametrize("equity", [D("0"), D("-5")])
def test_non_positive_blended_equity_fails_both(equity):
    checks = gate(blended_equity=equity)
    assert not checks["portfolio_risk"].passed and not checks["portfolio_vol"].passed
    assert checks["portfolio_risk"].detail["reason"] == "non_positive_equity"


def test_check_details_are_json_serialisable():
    checks = [*portfolio_gate(
        new_risk=D("1"), new_vol=D("2"), existing_risk=D("0"), existing_vol=D("0"),
        blended_equity=D("3"), max_risk_percent=D("15"), max_vol_percent=D("5"),
    ), *pyramid_checks()]
    encoded = json.loads(json.dumps([c.as_dict() for c in checks]))
    assert encoded[0]["detail"]["projected_percent"] == "33.333333"
    assert encoded[0] == {"check": "portfolio_risk", "passed": False, "detail": encoded[0]["detail"]}


def test_new_position_risk_and_vol():
    assert new_position_risk(price=D("52000"), stop=D("51650"), lots=3, point_value=D("30")) == 31500
    assert new_position_vol(atr=D("350"), lots=3, point_value=D("30")) == 31500
    assert new_position_risk(price=D("100"), stop=D("101"), lots=3, point_value=D("30")) == 0


def test_bug_46_pyramid_portfolio_gate_uses_the_real_size():
    # The earlier system assumed 5 lots for every pyramid.  Here the real size is 1 lot, which fits
    # under 12 %, while 5 lots would not.
    sized = size_pyramid(
        params=BANK_NIFTY, equity_high=D("5000000"), price=D("51100"), stop=D("49000"), layer=2, base_lots=10,
        base_entry_price=D("50000"), base_initial_stop=D("49475"), margin_in_use=D("0"),
        margin_limit_percent=D("60"),
    )
    assert sized.lots == 1

    def risk_check(lots):
        new_risk = new_position_risk(price=D("51100"), stop=D("49000"), lots=lots, point_value=D("30"))
        return gate(
            new_risk=new_risk, existing_risk=D("400000"), blended_equity=D("5000000"),
            max_risk_percent=LIMITS.pyramid_max_risk_percent,
        )["portfolio_risk"].passed

    assert risk_check(sized.lots)
    assert not risk_check(5)


# --- pyramid gates --------------------------------------------------------------------------------


def test_pyramid_gates_all_pass_in_order():
    checks = pyramid_checks()
    assert [c.check for c in checks] == ["1r_gate", "atr_spacing", "instrument_pnl", "max_pyramids"]
    assert all(c.passed for c in checks)
    assert checks[0].detail == {"moved": "1000", "r": "600", "price_move_r": "1.666667"}


def test_1r_exactly_equal_is_refused():
    assert not by_name(pyramid_checks(price=D("50600"), last_entry_price=D("50000")))["1r_gate"]


def test_1r_a_tick_above_passes():
    assert by_name(pyramid_checks(price=D("50600.05"), last_entry_price=D("50000")))["1r_gate"]


@pytest.mark.parametrize("initial_stop", [D("50000"), D("50100")])
def test_1r_gate_fails_without_initial_risk(initial_stop):
    check = pyramid_checks(base_initial_stop=initial_stop)[0]
    assert not check.passed and check.detail["reason"] == "invalid_initial_risk"


def test_spacing_of_exactly_half_an_atr_is_allowed():
    assert by_name(pyramid_checks(last_entry_price=D("50800")))["atr_spacing"]  # 200 = 0.5 × 400


def test_spacing_below_half_an_atr_is_refused():
    check = pyramid_checks(last_entry_price=D("50800.01"))[1]
    assert not check.passed
    assert check.detail == {"distance": "199.99", "required": "200.0", "atr": "400"}


def test_zero_atr_fails_spacing():
    check = pyramid_checks(atr=D("0"))[1]
    assert not check.passed and check.detail["reason"] == "no_atr"


@pytest.mark.parametrize(("pnl", "passed"), [(D("0"), False), (D("-1"), False), (D("0.01"), True)])
def test_instrument_open_pnl_must_be_strictly_positive(pnl, passed):
    assert by_name(pyramid_checks(instrument_open_pnl=pnl))["instrument_pnl"] is passed


@pytest.mark.parametrize(("opened", "passed"), [(0, True), (2, True), (3, False), (4, False)])
def test_bug_46_max_pyramids_is_enforced(opened, passed):
    checks = by_name(pyramid_checks(pyramids_since_base=opened, max_pyramids=3))
    assert checks["max_pyramids"] is passed


def test_every_failing_gate_is_reported():
    checks = pyramid_checks(
        price=D("50000"), instrument_open_pnl=D("0"), pyramids_since_base=5, last_entry_price=D("50000")
    )
    assert by_name(checks) == {"1r_gate": False, "atr_spacing": False, "instrument_pnl": False,
                               "max_pyramids": False}
