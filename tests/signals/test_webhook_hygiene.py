"""Hostile and clumsy input at the webhook (DESIGN §15.4, Appendix A): each answer is the documented
4xx or a 202, never a 5xx; nothing is stored for a 4xx; no input raises a ``database_unreachable``
alert.  Only an unreachable database is a 503 (and that alert)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.conf import settings
from django.db import DataError, IntegrityError, InterfaceError, OperationalError

from signals.models import SignalLog
from tests import payloads
from tests.signals.hostile import captured_alerts, comparable, expected_payload, parsed, stored

pytestmark = pytest.mark.django_db

SECRET = settings.PM_WEBHOOK_SECRET


def _signal(webhook, **fields) -> dict:
    return {**payloads.entry(timestamp=webhook.at(0), lots=2), "secret": SECRET, **fields}


def _with_raw(body: dict, raw_fields: str) -> bytes:
    """``body`` as JSON with ``raw_fields`` spliced in as written (JSON literals json.dumps never writes)."""
    return (json.dumps(body)[:-1] + ", " + raw_fields + "}").encode()


def _post(client, body: bytes, content_type="application/json", path="/webhook"):
    with captured_alerts() as raised:
        response = client.post(path, data=body, content_type=content_type)
    assert response.status_code < 500, response.content
    assert "database_unreachable" not in raised
    return response


def _accepted(client, body: bytes, **kwargs) -> dict:
    """Posts ``body``, expects a 202, returns the stored payload after checking it is the sanitised input."""
    response = _post(client, body, **kwargs)
    assert response.status_code == 202, response.content
    payload = stored(response.json()["signal_id"])
    assert comparable(payload) == comparable(expected_payload(parsed(body)))
    assert "secret" not in payload
    return payload


def _refused(client, body: bytes, code: int = 400, **kwargs) -> dict:
    response = _post(client, body, **kwargs)
    assert response.status_code == code, response.content
    assert not SignalLog.objects.exists()
    return response.json()


# --- junk in fields nobody validates: stored sanitised, accepted -------------------------------------

@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_nul_and_lone_surrogates_in_extra_values_and_keys_are_stored_replaced(portfolio, webhook, client,
                                                                               content_type):
    body = json.dumps(_signal(webhook, note="a\x00b", lone="x\ud800y", low="\udfff", pair="\ud83d\ude00",
                              nested={"k\x00": ["\ud800", {"\udc00key": "v\x00"}]},
                              **{"key\x00": 1, "\ud800": 2})).encode()
    payload = _accepted(client, body, content_type=content_type)
    assert payload["note"] == "a\ufffdb" and payload["lone"] == "x\ufffdy" and payload["low"] == "\ufffd"
    assert payload["pair"] == "\U0001F600"  # a valid surrogate pair is one character, kept as sent
    assert payload["nested"] == {"k\ufffd": ["\ufffd", {"\ufffdkey": "v\ufffd"}]}
    assert payload["key\ufffd"] == 1 and payload["\ufffd"] == 2


def test_nan_and_infinity_literals_in_extra_fields_are_stored_null(portfolio, webhook, client):
    body = _with_raw(_signal(webhook), '"a":NaN, "b":Infinity, "c":-Infinity, "d":1e400, "e":[NaN, {"f":-1e999}]')
    payload = _accepted(client, body)
    assert [payload[k] for k in "abcd"] == [None] * 4 and payload["e"] == [None, {"f": None}]


def test_huge_and_tiny_numbers_in_extra_fields_are_stored(portfolio, webhook, client):
    body = _with_raw(_signal(webhook), '"big":' + "9" * 4000 + ', "float":1.7976931348623157e308, "tiny":5e-324,'
                     ' "under":1e-400, "neg0":-0.0')
    payload = _accepted(client, body)
    assert payload["big"] == int("9" * 4000) and payload["under"] == 0


def test_integer_longer_than_python_parses_is_a_malformed_body(portfolio, webhook, client):
    body = _refused(client, _with_raw(_signal(webhook), '"big":' + "9" * 5000))
    assert body["errors"] == {"non_field_errors": ["The body must be a JSON object."]}


def test_nesting_up_to_the_limit_is_accepted_and_deeper_is_refused(portfolio, webhook, client):
    def nested(levels):  # the body itself is level 1, so "deep" at 31 levels reaches 32
        return "[" * levels + "]" * levels

    assert _post(client, _with_raw(_signal(webhook), '"deep":' + nested(31))).status_code == 202
    SignalLog.objects.all().delete()
    too_deep = _refused(client, _with_raw(_signal(webhook), '"deep":' + nested(32)))
    assert too_deep["errors"] == {"non_field_errors": ["The body must be a JSON object nested at most 32 levels deep."]}
    # Within 10 KB, thousands of levels: Python's parser gives up (RecursionError), still a plain 400.
    for body in (b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}", b"[" * 10_000, b'{"a":' * 1500 + b"1" + b"}" * 1500):
        assert len(body) <= 10_240
        assert _refused(client, body)["errors"]["non_field_errors"]


def test_empty_and_non_utf8_bodies_are_400(portfolio, client):
    for body in (b"", b"\x00", b'{"a":"\xff"}', b"\xed\xa0\x80", "{}".encode("utf-16")[:3]):
        assert _refused(client, body)["error_type"] == "validation_error"


# --- authentication that cannot even be compared -------------------------------------------------------

@pytest.mark.parametrize("secret", ["sécret-ünïcode", "\ud800", "\x00", 12345, 1.5, True, None, [SECRET],
                                    {"s": SECRET}, ""])
def test_odd_secrets_are_401(portfolio, webhook, client, secret):
    body = json.dumps({**_signal(webhook), "secret": secret}).encode()
    assert _refused(client, body, 401)["error_type"] == "authentication_failed"


def test_non_ascii_header_secret_is_401(portfolio, webhook, client):
    body = json.dumps({k: v for k, v in _signal(webhook).items() if k != "secret"}).encode()
    with captured_alerts() as raised:
        response = client.post("/webhook", data=body, content_type="application/json",
                               HTTP_X_WEBHOOK_SECRET="sécret\u20ac")
    assert response.status_code == 401 and not raised and not SignalLog.objects.exists()


# --- validated fields: 400 naming the field ----------------------------------------------------------

@pytest.mark.parametrize("timestamp", ["9999-12-31T23:59-01:00", "9999-12-31T23:59:59-00:01", "0001-01-01T00:00+01:00",
                                       "0001-01-01T00:00:00", "2025-13-01T00:00:00", "2025-01-01T00:00:00+24:00",
                                       "2025-01-01T00:00:00\x00", "２０２５-01-01T00:00:00"])
def test_impossible_timestamps_are_400_naming_timestamp(portfolio, webhook, client, timestamp):
    body = json.dumps(_signal(webhook, timestamp=timestamp)).encode()
    assert set(_refused(client, body)["errors"]) == {"timestamp"}


@pytest.mark.parametrize("offset, utc", [("+23:59", "2026-01-01T10:01:00+00:00"), ("-23:59", "2026-01-03T09:59:00+00:00"),
                                         ("-16:00", "2026-01-03T02:00:00+00:00")])
def test_offsets_postgresql_would_refuse_are_stored_in_utc(portfolio, webhook, client, offset, utc):
    body = json.dumps({**payloads.exit_(timestamp=f"2026-01-02T10:00:00{offset}"), "secret": SECRET}).encode()
    response = _post(client, body)
    assert response.status_code == 202
    assert SignalLog.objects.get().signal_timestamp.isoformat() == utc


@pytest.mark.parametrize("field, raw", [
    ("price", "1e400"), ("price", "-1e400"), ("price", "1" + "0" * 400), ("price", '"1' + "0" * 400 + '"'),
    ("price", "NaN"), ("price", '"NaN"'), ("price", "Infinity"), ("atr", "NaN"), ("atr", '"Infinity"'),
    ("er", "NaN"), ("er", "1e-400"), ("stop", "-Infinity"), ("supertrend", "NaN"), ("lots", "1e308"),
    ("lots", "NaN"), ("lots", "9" * 40), ("roc", "Infinity"), ("roc", "1e400"), ("price", "true"),
    ("price", "[1]"), ("price", '{"v":1}'), ("price", '"52000\\u0000"'), ("position", '"Long_1\\u0000"'),
    ("instrument", '"GOLD_MINI\\ud800"'), ("type", "null"), ("type", "[]"),
])
def test_unusable_values_in_validated_fields_are_400_naming_the_field(portfolio, webhook, client, field, raw):
    body = {k: v for k, v in _signal(webhook).items() if k != field}
    assert field in _refused(client, _with_raw(body, f'"{field}":{raw}'))["errors"]


def test_exit_reason_with_unstorable_characters_is_400(portfolio, webhook, client):
    body = {**payloads.exit_(timestamp=webhook.at(0)), "secret": SECRET, "reason": "Stop\x00Loss"}
    assert set(_refused(client, json.dumps(body).encode())["errors"]) == {"reason"}
    body["reason"] = "Stop\ud800"
    assert set(_refused(client, json.dumps(body).encode())["errors"]) == {"reason"}


@pytest.mark.parametrize("raw", ["NaN", '"NaN"', '"nan"', "null"])
def test_roc_nan_is_stored_null_and_accepted(portfolio, webhook, client, raw):
    body = {k: v for k, v in _signal(webhook).items() if k != "roc"}
    assert _accepted(client, _with_raw(body, f'"roc":{raw}'))["roc"] is None


@pytest.mark.parametrize("kind, fields, bad", [
    ("entry", {"atr": 0}, "atr"), ("entry", {"atr": -1}, "atr"), ("entry", {"er": 82}, "er"),
    ("entry", {"er": 0}, "er"), ("entry", {"er": -0.5}, "er"), ("entry", {"er": 1.0000001}, "er"),
    ("entry", {"stop": 72000}, "stop"), ("entry", {"stop": 72000.5}, "stop"), ("entry", {"price": 0}, "price"),
    ("pyramid", {"atr": 0}, "atr"), ("pyramid", {"er": 82}, "er"), ("pyramid", {"stop": 80000}, "stop"),
    ("bar", {"atr": 0}, "atr"), ("bar", {"price": 0}, "price"), ("bar", {"price": -1}, "price"),
])
def test_value_bounds_are_400_naming_the_field(portfolio, webhook, client, kind, fields, bad):
    body = _body(webhook, kind, **fields)
    assert set(_refused(client, json.dumps(body).encode())["errors"]) == {bad}


@pytest.mark.parametrize("kind, fields", [
    ("entry", {"er": 1}), ("entry", {"er": "0.0001"}), ("entry", {"stop": 71999.99}),
    ("exit", {"stop": 0, "lots": 0, "atr": 0}), ("exit", {"er": 82}), ("exit", {"stop": 90000}),
])
def test_values_at_the_bounds_and_loose_exits_are_accepted(portfolio, webhook, client, kind, fields):
    _accepted(client, json.dumps(_body(webhook, kind, **fields)).encode())


def _body(webhook, kind, **fields) -> dict:
    builder = {"entry": payloads.entry, "bar": payloads.bar, "exit": payloads.exit_,
               "pyramid": lambda **f: payloads.entry(position="Long_2", **f)}[kind]
    return {**builder(timestamp=webhook.at(0)), "secret": SECRET, **fields}


# --- database errors: only an outage is a 503 -------------------------------------------------------

@pytest.mark.parametrize("error", [DataError("invalid input syntax for type json"),
                                   IntegrityError("violates foreign key constraint")])
def test_a_row_the_database_refuses_is_400_without_an_alert(portfolio, webhook, client, error):
    with mock.patch("signals.services.ingest.signal_insert", side_effect=error):
        body = _refused(client, json.dumps(_signal(webhook)).encode())
    assert body["errors"] == {"non_field_errors": ["The signal could not be stored as sent."]}


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_an_unreachable_database_is_503_with_an_alert(portfolio, webhook, client, error):
    with mock.patch("signals.services.ingest.signal_insert", side_effect=error), captured_alerts() as raised:
        response = client.post("/webhook", data=json.dumps(_signal(webhook)), content_type="application/json")
    assert response.status_code == 503 and raised == ["database_unreachable"]
    assert not SignalLog.objects.exists()


def test_an_unexpected_error_is_a_json_500_naming_no_path(portfolio, webhook, client, settings):
    settings.PM_WEBHOOK_URL_TOKEN = "t" * 40
    with mock.patch("signals.webhook.signal_ingest", side_effect=RuntimeError("bug")):
        response = client.post("/webhook/" + "t" * 40, data=json.dumps(_signal(webhook)),
                               content_type="application/json")
    assert response.status_code == 500 and response.json()["error_type"] == "internal_error"
    assert b"t" * 40 not in response.content
