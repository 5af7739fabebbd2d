"""A production instance started the way the README says (gunicorn, no nginx, no collectstatic) serves
the admin's and the cockpit's CSS and JavaScript itself: checked in a real headless Chromium."""

from __future__ import annotations

import httpx
import pytest

from tests.cluster import Cluster, RedisServer
from tests.cockpit.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def production_web(live_portfolio, tmp_path, django_user_model):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.db import connection

    # The instance checks passwords with production's hashers (the suite's MD5 one is not among them).
    django_user_model.objects.create(username="desk", is_staff=True, is_superuser=True,
                                     password=PBKDF2PasswordHasher().encode("desk-pass", "saltsaltsalt"))
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    cluster = Cluster(url, tmp_path, RedisServer(tmp_path).start())
    try:
        yield cluster.start_web("web1")
    finally:
        cluster.stop()
        cluster.redis.shutdown()


def test_gunicorn_instance_serves_a_styled_admin_and_cockpit(chromium, production_web):
    base = production_web.url
    for asset in ("admin/css/base.css", "admin/js/theme.js", "core/pm.css", "cockpit/cockpit.css",
                  "cockpit/cockpit.js"):
        response = httpx.get(f"{base}/static/{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > 100, asset

    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if "/static/" in r.url and r.status >= 400 else None)
    try:
        page.goto(f"{base}/admin/login/?next=/admin/cockpit/")
        # Styled: the admin stylesheet colours the header and hides the browser's default margins.
        assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") not in (
            "rgba(0, 0, 0, 0)", "transparent")
        screenshot(page, "production-login")
        page.fill("#id_username", "desk")
        page.fill("#id_password", "desk-pass")
        page.click("input[type=submit]")
        page.wait_for_selector("#equity-chart")
        assert page.evaluate("getComputedStyle(document.querySelector('.cockpit-section')).borderTopStyle") == "solid"
        # The instance registered itself and heartbeats: the health strip lists it with its age.
        assert page.locator("#instances tr[data-instance^='web1:']").count() == 1
        assert failed == []
        screenshot(page, "production-cockpit")
    finally:
        context.close()
