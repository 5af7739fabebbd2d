"""The embedded mode as the README runs it: gunicorn + SQLite + eager tasks + paper broker, with the
sample campaign replayed into it and the result visible in /api/positions/ and /admin/."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.formatting import format_money
from tests.cluster import wait_until

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def embedded(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "WEBHOOK_SECRET",
                                                          "DJANGO_SECRET_KEY", "BROKER", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'test_embedded.sqlite3'}", LOG_FORMAT="console",
               DJANGO_SETTINGS_MODULE="config.settings")

    def manage(*args):
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    manage("migrate", "--noinput", "-v0")
    manage("collectstatic", "--noinput", "-v0")
    manage("init_portfolio", "--capital", "5000000")
    credentials = manage("ensure_demo_admin")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--config", "config/gunicorn_embedded.py",
         "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _serves(f"{url}/admin/login/"), timeout=30, interval=0.2, what="the embedded server")
    try:
        yield url, manage, credentials
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_replayed_sample_campaign_is_visible_in_api_and_admin(embedded):
    url, manage, credentials = embedded
    assert "username: admin  password: admin" in credentials
    output = manage("replay_signals", "samples/campaign.jsonl", "--url", f"{url}/webhook")
    assert "Replayed 17 signals" in output

    token = manage("drf_create_token", "admin").split()[2]
    positions = httpx.get(f"{url}/api/positions/", headers={"Authorization": f"Token {token}"}).json()["results"]
    summary = sorted((p["label"], p["status"], p["exit_reason"]) for p in positions)
    assert summary == [
        ("BANK_NIFTY_Long_1", "closed", "SuperTrend"),
        ("BANK_NIFTY_Long_2", "closed", "SuperTrend"),
        ("GOLD_MINI_Long_1", "closed", "Manual Exit"),
        ("GOLD_MINI_Long_2", "closed", "Manual Exit"),
        ("GOLD_MINI_Long_3", "closed", "PM_STOP_HIT"),
    ]
    portfolio = httpx.get(f"{url}/api/portfolio/", headers={"Authorization": f"Token {token}"}).json()
    assert portfolio["statistics"]["trades_closed"] == 5

    with httpx.Client(base_url=url, follow_redirects=True) as browser:
        login = browser.get("/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        browser.post("/admin/login/?next=/admin/", data={"username": "admin", "password": "admin",
                                                          "csrfmiddlewaretoken": csrf})
        page = browser.get("/admin/positions/position/")
        assert page.status_code == 200
        assert "GOLD_MINI_Long_3" in page.text and "BANK_NIFTY_Long_2" in page.text
        assert browser.get("/static/admin/css/base.css").status_code == 200
        # The cockpit on SQLite: its equity curve query and sections work on the embedded database too.
        cockpit = browser.get("/admin/cockpit/")
        assert cockpit.status_code == 200 and 'class="closed-line"' in cockpit.text
        assert format_money(portfolio["closed_equity"]) in cockpit.text
        assert browser.get("/admin/cockpit/sections/equity/?range=1d").status_code == 200


def _serves(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
