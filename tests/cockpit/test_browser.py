"""The cockpit, the signal page and the admin lists in a real headless Chromium, against a live server
that has executed the sample campaign (samples/campaign.jsonl) received through its webhook.

Numbers are read from the DOM and compared with the books; a screenshot of each page is saved under
tests/artifacts/ (printed with -s).
"""

from __future__ import annotations

import pytest

from core import formatting
from tests.cockpit.browser import CAMPAIGN_OPEN_LINES, campaign, post_signals, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def replayed(live_portfolio, live_server, settings):
    """The campaign up to its last bar before the exits: Gold Mini base + pyramid open (the second
    pyramid stopped out), Bank Nifty base + pyramid open.  Returns (signals, their ids)."""
    settings.PM_COCKPIT_REFRESH_SECONDS = 1
    signals = campaign()
    ids = post_signals(live_server.url, signals[:CAMPAIGN_OPEN_LINES])
    return signals, ids


def _text(page, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_dashboard_shows_the_books_of_the_replayed_campaign(staff_page, live_server, replayed):
    from portfolio.models import PortfolioState
    from positions.models import LIVE_STATUSES, Position
    from signals.models import SignalLog

    page = staff_page
    page.goto(f"{live_server.url}/admin/")
    page.click("#cockpit-link a >> nth=0")
    page.wait_for_selector("#equity-chart")
    assert page.url == f"{live_server.url}/admin/cockpit/"

    state = PortfolioState.objects.get()
    # Gold Mini Long_3 (2 lots at 74,500) was stopped out at 73,900: −₹12,000 booked.
    assert _text(page, "#closed-equity .value") == "₹49,88,000.00" == formatting.format_money(state.closed_equity)
    assert _text(page, "#equity-high .value") == "₹50,00,000.00"
    assert page.get_attribute("#bar-risk", "data-cap") == "15.000"
    assert page.get_attribute("#bar-vol", "data-cap") == "5.000"
    assert page.get_attribute("#bar-margin", "data-cap") == "60.000"
    assert "Trading active" in _text(page, "#paused")

    live = list(Position.objects.filter(status__in=LIVE_STATUSES).select_related("instrument"))
    assert sorted(p.label for p in live) == ["BANK_NIFTY_Long_1", "BANK_NIFTY_Long_2", "GOLD_MINI_Long_1",
                                             "GOLD_MINI_Long_2"]
    for position in live:
        row = f'#positions tr[data-position-id="{position.pk}"]'
        tick = position.instrument.tick_size
        assert _text(page, f"{row} .lots") == str(position.lots)
        assert _text(page, f"{row} .entry") == formatting.format_price(position.entry_price, tick)
        assert _text(page, f"{row} .stop") == formatting.format_price(position.current_stop, tick)
        assert _text(page, f"{row} .mark") == formatting.format_price(position.instrument.mark_price, tick)
        pnl = (position.instrument.mark_price - position.entry_price) * position.lots * position.instrument.point_value
        assert _text(page, f"{row} .open-pnl") == formatting.format_money(pnl, sign=True)
    assert _text(page, '#positions tbody[data-instrument="GOLD_MINI"] .instrument-row .mark').startswith("73,900")

    marks = page.locator("#signal-timeline a.sig")
    assert marks.count() == SignalLog.objects.count() == CAMPAIGN_OPEN_LINES
    assert page.locator('#signal-timeline a[data-status="executed"]').count() == CAMPAIGN_OPEN_LINES
    assert f"{CAMPAIGN_OPEN_LINES} signals" in _text(page, "#signal-counts")
    assert "Database ok" in _text(page, "#health-strip") and "Redis ok" in _text(page, "#health-strip")
    assert _text(page, "#open-discrepancies") == "0 open discrepancies"

    # The charts draw: the equity lines have geometry, the timeline has a dot per signal.
    closed = page.locator("#equity-chart path.closed-line")
    assert closed.count() == 1 and len(closed.get_attribute("d")) > 10
    box = page.locator("#equity-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    assert page.locator("#signal-timeline circle").first.bounding_box()["width"] > 0
    screenshot(page, "cockpit")


def test_a_new_signal_appears_without_a_reload(staff_page, live_server, replayed):
    signals, _ = replayed
    page = staff_page
    page.goto(f"{live_server.url}/admin/cockpit/")
    page.wait_for_selector("#signal-timeline")
    page.evaluate("window.__sameDocument = true")
    assert page.locator('#positions tbody[data-instrument="BANK_NIFTY"]').count() == 1

    exit_bank_nifty = next(s for s in signals[CAMPAIGN_OPEN_LINES:] if s["type"] == "EXIT")
    (signal_id,) = post_signals(live_server.url, [exit_bank_nifty])
    page.wait_for_selector(f'#signal-timeline a[data-signal-id="{signal_id}"][data-status="executed"]')
    page.wait_for_selector('#positions tbody[data-instrument="BANK_NIFTY"]', state="detached")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place, never reloaded
    assert _text(page, f'#latest-signals tr[data-signal-id="{signal_id}"]').endswith("EXIT ALL executed")
    screenshot(page, "cockpit-after-exit")


def test_signal_page_shows_checks_orders_and_positions(staff_page, live_server, replayed):
    from signals.models import SignalLog

    pyramid = SignalLog.objects.get(signal_type="PYRAMID", instrument="GOLD_MINI", position="Long_2")
    page = staff_page
    page.goto(f"{live_server.url}/admin/signals/signallog/{pyramid.pk}/change/")
    checks = page.locator("#signal-checks tr")
    assert checks.count() == len(pyramid.result["checks"]) + 1
    gate = _text(page, "#signal-checks tr.check-passed:has-text('1r_gate')")
    assert "passed" in gate and "moved 1,200" in gate  # the numbers behind the gate: 73,200 − 72,000
    orders = _text(page, "#signal-orders")
    assert "FILLED" in orders and "73,200.00" in orders and "BUY GOLDM" in orders
    link = page.locator("a.touched-position")
    assert link.count() == 1 and "GOLD_MINI_Long_2" in link.inner_text() and "opened" in _text(page, ".field-positions_touched")
    screenshot(page, "signal-page")


def test_position_list_shows_closed_positions_readably(staff_page, live_server, replayed):
    from positions.models import Position

    stopped = Position.objects.get(status="closed")
    page = staff_page
    page.goto(f"{live_server.url}/admin/positions/position/")
    row = page.locator(f"#result_list tr:has(a[href$='/{stopped.pk}/change/'])")
    assert _text(page, f"#result_list tr:has(a[href$='/{stopped.pk}/change/']) td.field-realised") == "-₹12,000.00"
    assert row.locator("td.field-realised span.pnl-neg").count() == 1
    assert row.locator("td.field-exit_fill").inner_text() == "73,900"
    assert row.locator("td.field-exit_reason").inner_text() == "PM_STOP_HIT"
    assert row.locator("td.field-open_pnl").inner_text() == formatting.DASH
    assert "IST" in row.locator("td.field-closed_at").inner_text()
    screenshot(page, "admin-positions")
    page.goto(f"{live_server.url}/admin/portfolio/capitaltransaction/")
    assert "₹50,00,000.00" in page.inner_text("#result_list")
    screenshot(page, "admin-ledger")
