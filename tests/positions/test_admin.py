"""The position and order lists read like a trader's book: prices to the tick, money in ₹ with Indian
grouping, P&L coloured; closed positions show their exit, realised P&L and reason, not an open P&L."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio.models import Instrument
from tests.factories import make_position

pytestmark = pytest.mark.django_db


def test_position_list_shows_open_pnl_for_live_rows_and_exit_figures_for_closed(ops_admin, portfolio):
    Instrument.objects.filter(code="BANK_NIFTY").update(tick_size=Decimal("0.05"))
    make_position(lots=9, price="72000", unrealized_pnl=Decimal("225000"))
    make_position(layer=2, status="closed", price="74500", exit_price=Decimal("73900"), exit_reason="PM_STOP_HIT",
                  realized_pnl=Decimal("-12000"), unrealized_pnl=Decimal("0"))
    make_position(instrument="BANK_NIFTY", price="52000.05")
    page = " ".join(ops_admin.get("/admin/positions/position/").content.decode().split())
    assert '<td class="field-entry">72,000</td>' in page and '<td class="field-entry">52,000.05</td>' in page
    assert '<td class="field-open_pnl"><span class="pnl-pos">+₹2,25,000.00</span></td>' in page
    assert '<td class="field-realised"><span class="pnl-neg">-₹12,000.00</span></td>' in page
    assert '<td class="field-exit_fill">73,900</td>' in page and "PM_STOP_HIT" in page
    closed_row = page.split('field-label">GOLD_MINI_Long_2')[1].split("</tr>")[0]
    assert 'field-open_pnl">—' in closed_row and 'field-stop">—' in closed_row
    assert " IST</td>" in page  # opened/closed timestamps in IST with the zone


def test_position_page_summarises_it_readably(ops_admin, portfolio):
    position = make_position(status="closed", lots=9, price="72000", exit_price=Decimal("75000"),
                             exit_reason="SuperTrend", realized_pnl=Decimal("270000"))
    page = ops_admin.get(f"/admin/positions/position/{position.pk}/change/").content.decode()
    summary = page.split('id="position-summary"')[1].split("</table>")[0]
    assert "75,000 — SuperTrend" in summary and '<span class="pnl-pos">+₹2,70,000.00</span>' in summary
    assert "initial 71,500, current 71,500, highest close 72,000" in summary


def test_every_admin_page_loads_the_shared_number_styles(ops_admin, portfolio):
    assert "core/pm.css" in ops_admin.get("/admin/positions/orderintent/").content.decode()
