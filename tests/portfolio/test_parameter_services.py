"""Instrument and portfolio parameter edits (DESIGN §15.4): the model refuses a bad value with the field
named (the same rules as the pure parameter objects), and an admin edit is written under the row lock
with only the edited fields, and audited with the values before and after."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import OpsAuditLog
from portfolio import parameter_services
from portfolio.admin import InstrumentAdmin
from portfolio.models import Instrument, PortfolioState
from portfolio.params import PortfolioParams
from portfolio.selectors import instrument_params
from portfolio.services import instrument_mark
from tests.rules_fixtures import GOLD_MINI

D = Decimal
INSTRUMENT_URL = "/admin/portfolio/instrument/GOLD_MINI/change/"
PORTFOLIO_URL = "/admin/portfolio/portfoliostate/1/change/"
READONLY = set(InstrumentAdmin.readonly_fields)


def instrument_form(**changes) -> dict:
    gold = Instrument.objects.get(pk="GOLD_MINI")
    fields = [f for _, options in InstrumentAdmin.fieldsets for f in options["fields"] if f not in READONLY]
    data = {k: ("" if v is None else v) for k, v in model_to_dict(gold, fields=fields).items()}
    return {**data, **changes}


@pytest.mark.parametrize("field, value", [
    ("risk_percent", D("0")), ("risk_percent", D("150")), ("vol_percent", D("-1")),
    ("contract_months", "1,13"), ("contract_months", "1,x"), ("max_pyramids", 6),
    ("symbol_root", "gold m"), ("point_value", D("0")), ("initial_stop_atr_multiple", D("0")),
    ("tick_size", D("0")), ("chase_seconds", 0), ("pyramid_spacing_atr", D("-0.5")),
])
def test_instrument_clean_names_the_bad_field(portfolio, field, value):
    gold = Instrument.objects.get(pk="GOLD_MINI")
    setattr(gold, field, value)
    with pytest.raises(ValidationError) as excinfo:
        gold.clean()
    assert field in excinfo.value.message_dict


def test_bank_nifty_needs_a_strike_step(portfolio):
    bank = Instrument.objects.get(pk="BANK_NIFTY")
    bank.strike_step = None
    with pytest.raises(ValidationError) as excinfo:
        bank.clean()
    assert list(excinfo.value.message_dict) == ["strike_step"]


def test_the_seeded_rows_are_valid_and_the_pure_objects_use_the_same_rules(portfolio):
    for instrument in Instrument.objects.all():
        instrument.clean()
        instrument_params(instrument)
    PortfolioState.objects.get().clean()
    with pytest.raises(ValueError, match="risk_percent"):
        dataclasses.replace(GOLD_MINI, risk_percent=D("150"))
    with pytest.raises(ValueError, match="pyramid_max_risk_percent"):
        PortfolioParams(pyramid_max_risk_percent=D("20"))
    with pytest.raises(ValueError, match="unrealized_weight"):
        PortfolioParams(unrealized_weight=D("1.5"))


@pytest.mark.parametrize("field, value", [
    ("max_risk_percent", D("0")), ("margin_limit_percent", D("120")), ("unrealized_weight", D("1.5")),
    ("pyramid_max_vol_percent", D("6")),  # above max_vol_percent 5
])
def test_portfolio_clean_names_the_bad_field(portfolio, field, value):
    state = PortfolioState.objects.get()
    setattr(state, field, value)
    with pytest.raises(ValidationError) as excinfo:
        state.clean()
    assert list(excinfo.value.message_dict) == [field]


def test_a_bad_admin_edit_is_refused_with_the_field_named(portfolio, ops_admin):
    page = ops_admin.post(INSTRUMENT_URL, instrument_form(risk_percent="82"))
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert list(errors) == ["risk_percent"] and "at most 10 " in errors["risk_percent"][0]
    months = ops_admin.post(INSTRUMENT_URL, instrument_form(contract_months="2,4,x"))
    assert list(months.context["adminform"].form.errors) == ["contract_months"]
    assert Instrument.objects.get(pk="GOLD_MINI").risk_percent == D("1.0") and not OpsAuditLog.objects.exists()


def test_an_admin_edit_is_locked_partial_and_audited(portfolio, ops_admin):
    real = parameter_services.instrument_parameters_update
    moment = timezone.now()

    def executor_marks_meanwhile(**kwargs):
        # The executor records a bar between the admin loading the row and saving it.
        instrument_mark(code="GOLD_MINI", price=D("72950"), at=moment)
        return real(**kwargs)

    with mock.patch("portfolio.admin.instrument_parameters_update", side_effect=executor_marks_meanwhile), \
            CaptureQueriesContext(connection) as queries:
        done = ops_admin.post(INSTRUMENT_URL, instrument_form(risk_percent="0.8", max_pyramids="2",
                                                              change_note="smaller after the drawdown"))
    assert done.status_code == 302
    gold = Instrument.objects.get(pk="GOLD_MINI")
    assert (gold.risk_percent, gold.max_pyramids, gold.mark_price) == (D("0.8"), 2, D("72950"))  # the mark kept
    assert any("FOR UPDATE" in q["sql"] and "portfolio_instrument" in q["sql"] for q in queries.captured_queries)
    entry = OpsAuditLog.objects.get()
    assert (entry.actor, entry.action, entry.target_id, entry.note) == (
        "ops", "instrument_edited", "GOLD_MINI", "smaller after the drawdown")
    assert (entry.before, entry.after) == ({"risk_percent": "1.000", "max_pyramids": 3},
                                           {"risk_percent": "0.800", "max_pyramids": 2})


def test_portfolio_limits_edit_is_validated_and_audited(portfolio, ops_admin):
    state = PortfolioState.objects.get()
    data = {name: getattr(state, name) for name in PortfolioState.LIMIT_FIELDS}
    bad = ops_admin.post(PORTFOLIO_URL, {**data, "pyramid_max_risk_percent": "16"})
    assert bad.status_code == 200 and list(bad.context["adminform"].form.errors) == ["pyramid_max_risk_percent"]
    done = ops_admin.post(PORTFOLIO_URL, {**data, "max_risk_percent": "12", "pyramid_max_risk_percent": "10",
                                          "change_note": "tighter"})
    assert done.status_code == 302
    after = PortfolioState.objects.get()
    assert (after.max_risk_percent, after.pyramid_max_risk_percent, after.version) == (12, 10, state.version + 1)
    assert after.closed_equity == state.closed_equity
    entry = OpsAuditLog.objects.get()
    assert (entry.action, entry.note) == ("portfolio_limits_edited", "tighter")
    assert entry.before == {"max_risk_percent": "15.000", "pyramid_max_risk_percent": "12.000"}
    assert entry.after == {"max_risk_percent": "12.000", "pyramid_max_risk_percent": "10.000"}
