"""The alert notifier: logged always, delivered to a Slack-compatible webhook, throttled."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest

from core import alerts
from tests.cluster import wait_until


@pytest.fixture
def slack(settings):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PM_ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_port}/hook"
    alerts._contention.clear()
    yield received
    server.shutdown()


def test_alert_is_delivered_to_the_webhook(slack):
    assert alerts.alert("signal_failed", signal_id=7, reason="broker_rejected")
    wait_until(lambda: slack, timeout=5, what="delivery")
    assert slack[0]["text"] == "[portfolio-manager] signal_failed: signal_id=7, reason=broker_rejected"


def test_repeating_conditions_alert_once_per_window(slack):
    assert alerts.alert("database_unreachable", every=60, where="webhook")
    assert not alerts.alert("database_unreachable", every=60, where="webhook")
    assert alerts.alert("broker_unreachable", every=60)


def test_lock_contention_alerts_above_ten_a_minute(slack):
    with mock.patch.object(alerts, "alert", wraps=alerts.alert) as raised:
        for _ in range(10):
            alerts.lock_contended("signal_lock")
        assert not raised.called
        alerts.lock_contended("signal_lock")
        assert raised.call_args.args == ("lock_contention",)
    wait_until(lambda: any("lock_contention" in m["text"] for m in slack), timeout=5, what="contention alert")
