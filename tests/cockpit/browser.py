"""A real headless Chromium for the browser tests: the Debian package ``chromium`` driven by Playwright's
Python package (``executable_path``, no browser download), screenshots under ``tests/artifacts/``, and
the sample campaign replayed through the webhook of a running server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PM_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
CAMPAIGN = ROOT / "samples" / "campaign.jsonl"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]
CAMPAIGN_OPEN_LINES = 13  # up to the last bar before the EOD monitor and the two EXIT ALLs


def chromium_path() -> str | None:
    for candidate in (os.environ.get("PM_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements/dev.txt)"
    if chromium_path() is None:
        return "no Chromium: install the OS package (apt-get install chromium), or set PM_CHROMIUM"
    return None


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def campaign(*, window_minutes: float = 30.0) -> list[dict]:
    """samples/campaign.jsonl with its timestamps moved to the last ``window_minutes`` (as
    ``scripts/replay.sh`` does), so entries are fresh."""
    from signals.management.commands.replay_signals import Command

    signals = [json.loads(line) for line in CAMPAIGN.read_text().splitlines() if line.strip()]
    Command()._rebase(signals, window_minutes)
    return signals


def post_signals(base_url: str, signals: list[dict]) -> list[int]:
    """POST each alert to ``base_url``/webhook, as TradingView would; returns the signal ids."""
    ids = []
    with httpx.Client(timeout=20) as client:
        for signal in signals:
            response = client.post(f"{base_url}/webhook", json={**signal, "secret": settings.PM_WEBHOOK_SECRET})
            assert response.status_code in (200, 202), response.text
            ids.append(response.json()["signal_id"])
    return ids


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module.  While Playwright's sync API runs, its asyncio loop is registered
    on this thread (it lives in a greenlet), which Django's async-safety check mistakes for async code
    calling the ORM: the check is off for exactly that long (module scope, so no other test sees it)."""
    reason = skip_reason()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    print(f"\nbrowser test artefacts (screenshots): {ARTIFACTS}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def staff_page(chromium, live_server, ops_user):
    """A browser page logged into the back office as ``ops`` (the session made by the test client)."""
    from django.test import Client

    client = Client()
    client.force_login(ops_user)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="en-IN")
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
