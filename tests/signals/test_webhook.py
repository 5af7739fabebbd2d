"""Each status code of the webhook contract (DESIGN §4, Appendix A), through the real URLconf."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.conf import settings
from django.db import OperationalError

from signals.models import SignalLog
from tests import payloads

pytestmark = pytest.mark.django_db

SECRET = settings.PM_WEBHOOK_SECRET


def _entry(webhook, **fields):
    return payloads.entry(timestamp=webhook.at(0), lots=2, **fields)


def test_accepted_then_duplicate(portfolio, webhook):
    first = webhook.post(_entry(webhook))
    assert first.status_code == 202
    body = first.json()
    assert body["status"] == "accepted" and len(body["fingerprint"]) == 64
    again = webhook.post(_entry(webhook))
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "signal_id": body["signal_id"], "fingerprint": body["fingerprint"]}
    row = SignalLog.objects.get()
    assert row.duplicate_count == 1 and row.status == "accepted"
    assert "secret" not in row.payload


def test_same_instant_in_another_format_is_a_duplicate(portfolio, webhook):
    first = webhook.post(_entry(webhook)).json()
    ist = webhook.base_time.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata")).replace(tzinfo=None)
    again = webhook.post({**_entry(webhook), "timestamp": ist.isoformat()})
    assert again.status_code == 200 and again.json()["signal_id"] == first["signal_id"]


def test_trailing_slash_and_text_plain_are_accepted(portfolio, webhook, client):
    response = client.post("/webhook/", data=json.dumps({**_entry(webhook), "secret": SECRET}),
                           content_type="text/plain")
    assert response.status_code == 202


def test_body_over_10kb_is_413_and_changes_nothing(portfolio, webhook):
    padded = {**_entry(webhook), "padding": "x" * 10_300}
    response = webhook.post(padded)
    assert response.status_code == 413
    exactly = {**_entry(webhook), "padding": ""}
    exactly["padding"] = "x" * (10_240 - len(json.dumps({**exactly, "secret": SECRET})))
    assert len(json.dumps({**exactly, "secret": SECRET})) == 10_240
    assert webhook.post(exactly).status_code == 202
    assert SignalLog.objects.count() == 1


def test_declared_content_length_over_limit_is_413(portfolio, webhook):
    response = webhook.post(_entry(webhook), CONTENT_LENGTH="20000")
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"null", b"\xff\xfe"])
def test_non_object_body_is_400(portfolio, webhook, body):
    response = webhook.post(body)
    assert response.status_code == 400
    assert response.json()["errors"] == {"non_field_errors": ["The body must be a JSON object."]}


def test_missing_or_wrong_secret_is_401(portfolio, webhook):
    assert webhook.post(_entry(webhook), secret=None).status_code == 401
    assert webhook.post(_entry(webhook), secret="wrong-secret").status_code == 401
    assert webhook.post({**_entry(webhook), "secret": 12345}, secret=None).status_code == 401
    # When the body has a secret field, that is the one checked (a correct header does not help).
    assert webhook.post(_entry(webhook), secret="wrong", HTTP_X_WEBHOOK_SECRET=SECRET).status_code == 401
    assert not SignalLog.objects.exists()


def test_header_secret_is_accepted(portfolio, webhook):
    response = webhook.post(_entry(webhook), secret=None, HTTP_X_WEBHOOK_SECRET=SECRET)
    assert response.status_code == 202


def test_validation_errors_name_each_field_and_store_nothing(portfolio, webhook):
    response = webhook.post({**_entry(webhook), "price": "abc", "position": "Long_9", "instrument": "NIFTY"})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and body["error_type"] == "validation_error"
    assert set(body["errors"]) == {"price", "position", "instrument"}
    assert not SignalLog.objects.exists()


def test_failed_authentication_is_throttled_per_address(portfolio, webhook):
    for _ in range(20):
        assert webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="10.0.0.9").status_code == 401
    throttled = webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="10.0.0.9")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    # Authenticated signals from the same address are never throttled; other addresses are unaffected.
    assert webhook.post(_entry(webhook), REMOTE_ADDR="10.0.0.9").status_code == 202
    assert webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="10.0.0.10").status_code == 401


def test_requests_refused_before_authentication_are_not_counted(portfolio, webhook):
    for _ in range(30):
        assert webhook.post(b"[]", REMOTE_ADDR="10.0.0.11").status_code == 400
    assert webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="10.0.0.11").status_code == 401


def test_client_address_comes_from_trusted_proxy(portfolio, webhook, settings):
    settings.PM_TRUSTED_PROXY_COUNT = 1
    for _ in range(20):
        webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    # Another client behind the same proxy has its own budget.
    assert webhook.post(_entry(webhook), secret="bad", REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 401


def test_database_unavailable_is_503_and_nothing_is_stored(portfolio, webhook):
    with mock.patch("signals.services.ingest.signal_insert", side_effect=OperationalError("connection refused")):
        response = webhook.post(_entry(webhook))
    assert response.status_code == 503 and response.json()["error_type"] == "unavailable"
    assert not SignalLog.objects.exists()
    assert webhook.post(_entry(webhook)).status_code == 202  # TradingView's resend is welcome


def test_get_is_refused(client):
    assert client.get("/webhook").status_code == 405


def test_secret_never_reaches_the_database_or_logs(portfolio, webhook, caplog):
    webhook.post(_entry(webhook, extra_note="n"))
    webhook.post(_entry(webhook), secret="bad-" + SECRET)
    row = SignalLog.objects.get()
    assert SECRET not in json.dumps(row.payload) and SECRET not in json.dumps(row.result)
    assert SECRET not in caplog.text
