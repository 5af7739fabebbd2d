"""The cockpit page and its refresh fragments through the real URLconf: staff only, bounded queries,
every section rendered; the admin index links it first; instances serve their own static files."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portfolio.models import Instrument
from tests.factories import make_position, make_signal

pytestmark = pytest.mark.django_db

SECTIONS = ("health", "summary", "equity", "positions", "signals")


def _full_book() -> None:
    """Every layer of every instrument open (24 positions), closed positions and today's signals."""
    Instrument.objects.update(mark_price=Decimal("75000"), mark_at=timezone.now())
    for code in ("BANK_NIFTY", "GOLD_MINI", "SILVER_MINI", "COPPER"):
        for layer in range(1, 7):
            make_position(instrument=code, layer=layer, lots=1, price="74000")
        make_position(instrument=code, layer=1, status="closed", realized_pnl=Decimal("-1500"))
        for status in ("executed", "blocked", "rejected", "failed"):
            make_signal(instrument=code, status=status)


def test_only_staff_see_the_cockpit(client, django_user_model, portfolio):
    for url in ("/admin/cockpit/", "/admin/cockpit/sections/summary/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(django_user_model.objects.create_user("viewer", password="pw"))
    assert client.get("/admin/cockpit/").status_code == 302


def test_the_page_renders_every_section_with_bounded_queries(ops_admin, portfolio, django_assert_max_num_queries):
    _full_book()
    with django_assert_max_num_queries(25):
        response = ops_admin.get("/admin/cockpit/")
    page = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    for name in SECTIONS:
        assert f'id="cockpit-{name}"' in page and f'data-refresh-url="/admin/cockpit/sections/{name}/' in page
    assert page.count('<tr data-position-id=') == 24 and page.count('class="sig sig-') == 16
    assert '<svg id="equity-chart"' in page and "₹50,00,000.00" in page
    assert 'data-refresh-url="/admin/cockpit/sections/equity/?range=all" data-refresh-seconds="30"' in page


@pytest.mark.parametrize("name", SECTIONS)
def test_each_section_refreshes_as_a_fragment(ops_admin, portfolio, name, django_assert_max_num_queries):
    _full_book()
    with django_assert_max_num_queries(12):
        response = ops_admin.get(f"/admin/cockpit/sections/{name}/?range=1w")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()


def test_unknown_section_is_404_and_range_is_selectable(ops_admin, portfolio):
    assert ops_admin.get("/admin/cockpit/sections/nope/").status_code == 404
    page = ops_admin.get("/admin/cockpit/?range=1m").content.decode()
    assert 'class="range selected" data-range="1m"' in page and "sections/equity/?range=1m" in page


def test_paused_portfolio_and_missing_portfolio(ops_admin, portfolio):
    from portfolio.services import trading_pause

    trading_pause(reason="RBI policy", actor="ops")
    assert "Trading paused — RBI policy" in ops_admin.get("/admin/cockpit/").content.decode()


def test_before_init_portfolio_the_page_says_so(ops_admin, db):
    page = ops_admin.get("/admin/cockpit/").content.decode()
    assert "Portfolio not initialised" in page


def test_the_admin_index_links_the_cockpit_first(ops_admin, portfolio):
    page = ops_admin.get("/admin/").content.decode()
    assert page.index('id="cockpit-link"') < page.index('id="open-discrepancies"')
    assert 'href="/admin/cockpit/"' in page


def test_signal_timeline_uses_the_signal_time(ops_admin, portfolio):
    signal = make_signal(status="executed", signal_timestamp=timezone.now() - timedelta(minutes=20))
    page = ops_admin.get("/admin/cockpit/sections/signals/").content.decode()
    assert f'href="/admin/signals/signallog/{signal.pk}/change/" class="sig sig-executed"' in page


@pytest.mark.parametrize("asset", ["admin/css/base.css", "admin/js/theme.js", "core/pm.css", "cockpit/cockpit.js"])
def test_an_instance_serves_static_files_without_collectstatic(client, asset, settings, tmp_path):
    """WhiteNoise finds them in the apps (WHITENOISE_USE_FINDERS): nothing needs collecting first."""
    from whitenoise.middleware import WhiteNoiseMiddleware

    settings.STATIC_ROOT = tmp_path / "never-collected"
    assert f"/static/{asset}" in WhiteNoiseMiddleware(lambda request: None).files
    response = client.get(f"/static/{asset}")
    assert response.status_code == 200 and b"".join(response.streaming_content)
