"""HTTP-level fuzzing of the webhook (DESIGN §15.4): hostile bodies posted through the real Django stack
against PostgreSQL.  Whatever arrives, the answer is one of 202/200/400/401/413/429 — never a 5xx,
never a ``database_unreachable`` alert — and a 202's stored payload is the sanitised input without
the secret.

The default hypothesis profile keeps this file to a few seconds; the long run is
``./scripts/test.sh tests/signals/test_webhook_fuzz.py --hypothesis-profile=long`` (10,000 examples
per test, no deadline; see tests/conftest.py).
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from signals.models import SignalLog
from tests import payloads
from tests.signals.hostile import captured_alerts, comparable, expected_payload, rolled_back, stored

pytestmark = pytest.mark.django_db

ANSWERS = {200, 202, 400, 401, 413, 429}
TOKEN = "fuzz-url-token-0123456789abcdefABCDEF"
SECRET = django_settings.PM_WEBHOOK_SECRET
CONTENT_TYPES = ("application/json", "text/plain")  # what TradingView sends
# Per-test settings only; the number of examples comes from the profile (default or long).
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])

# --- strategies -------------------------------------------------------------------------------------

# Text a clumsy or hostile sender produces: NUL, unpaired surrogates, noncharacters, separators.
odd_characters = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\ufffe", "\uffff", "\u2028",
                                  "\x7f", "\\", '"', "\U0001F600", "٣", "５"])
hostile_text = st.text(alphabet=st.one_of(st.characters(), odd_characters), max_size=24)
numbers = st.one_of(
    st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 2**63, -(2**63) - 1, 10**40, 1.7976931348623157e308]),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, hostile_text)
json_values = st.recursive(
    leaves, lambda children: st.lists(children, max_size=4) | st.dictionaries(hostile_text, children, max_size=4),
    max_leaves=12,
)
number_texts = st.one_of(
    numbers.map(str), st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "1e400", " 5", "5 ", "+5", ".5",
                                       "5.", "1_000", "0x10", "१२३", "", "-0", "00072000"]),
)


def _signals(timestamp: str) -> dict[str, dict]:
    return {
        "entry": payloads.entry(timestamp=timestamp, lots=2, roc=1.5),
        "pyramid": payloads.entry(timestamp=timestamp, position="Long_2", lots=1),
        "exit": {**payloads.exit_(timestamp=timestamp, position="Long_1"), "entry_price": 72000.5},
        "bar": payloads.bar(timestamp=timestamp),
        "monitor": {"type": "EOD_MONITOR", "instrument": "GOLD_MINI", "timestamp": timestamp, "price": 72010.5},
    }


SIGNAL_KINDS = tuple(_signals("x"))
# Names the webhook reads (roc is optional, so absent from some signals above): junk there is not "extra".
VALIDATED = frozenset({"type", "instrument", "position", "price", "stop", "lots", "atr", "er", "supertrend", "roc",
                       "timestamp", "reason", "secret"})


def encode(doc, style: str) -> bytes:
    """``doc`` as a client would write it: escaped ASCII, raw UTF-8 (invalid where a lone surrogate
    sits), compact or with Pine's ``", "`` spacing.  NaN/Infinity become the bare literals."""
    if style == "utf8":
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if style == "compact":
        return json.dumps(doc, separators=(",", ":")).encode()
    if style == "pine":
        return json.dumps(doc, separators=(", ", ":")).encode()
    return json.dumps(doc).encode()


styles = st.sampled_from(["ascii", "utf8", "compact", "pine"])
auth_modes = st.sampled_from(["body", "header", "token"])


def _request(client, doc, *, style, auth, content_type, address):
    """Post ``doc`` authenticated as ``auth`` says (``body``/``header``/``token``/``wrong``/``none``)."""
    path, headers = "/webhook", {"REMOTE_ADDR": address}
    if isinstance(doc, dict):
        doc = dict(doc)
        if auth == "body":
            doc["secret"] = SECRET
        elif auth == "wrong":
            doc["secret"] = "wrong"
    if auth == "header":
        headers["HTTP_X_WEBHOOK_SECRET"] = SECRET
    elif auth == "token":
        path = f"/webhook/{TOKEN}"
    raw = encode(doc, style)
    with captured_alerts() as raised:
        response = client.post(path, data=raw, content_type=content_type, **headers)
    assert response.status_code in ANSWERS, (response.status_code, response.content[:300])
    assert "database_unreachable" not in raised, raised
    return raw, response


def _check_stored(raw: bytes, response) -> None:
    """A 202 stored the sanitised input without the secret; anything refused stored nothing."""
    if response.status_code == 202:
        assert comparable(stored(response.json()["signal_id"])) == comparable(expected_payload(json.loads(raw)))
    elif response.status_code != 200:
        assert not SignalLog.objects.exists()


@pytest.fixture
def fuzz_env(portfolio, webhook, settings):
    settings.PM_WEBHOOK_URL_TOKEN = TOKEN
    return _signals(webhook.at(0))


addresses = st.integers(0, 2**24 - 1).map(lambda n: f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")

# --- properties -------------------------------------------------------------------------------------


@FUZZ
@given(kind=st.sampled_from(SIGNAL_KINDS), extras=st.dictionaries(hostile_text, json_values, max_size=5),
       style=styles, auth=auth_modes, content_type=st.sampled_from(CONTENT_TYPES), address=addresses)
def test_valid_signals_with_junk_extras_are_accepted_sanitised(client, fuzz_env, kind, extras, style, auth,
                                                               content_type, address):
    signal = fuzz_env[kind]
    extras = {k: v for k, v in extras.items() if k not in VALIDATED and k not in signal}
    doc = {**signal, **extras}
    if style == "utf8":
        try:
            encode(doc, style).decode("utf-8")
        except UnicodeDecodeError:
            style = "ascii"  # raw UTF-8 cannot carry a lone surrogate; that case is fuzzed below
    assume(len(encode({**doc, "secret": SECRET}, style)) <= django_settings.PM_WEBHOOK_MAX_BYTES)
    with rolled_back():
        raw, response = _request(client, doc, style=style, auth=auth, content_type=content_type, address=address)
        assert response.status_code == 202, response.content[:300]
        _check_stored(raw, response)


@FUZZ
@given(kind=st.sampled_from(SIGNAL_KINDS), data=st.data(), style=styles, auth=auth_modes,
       content_type=st.sampled_from(CONTENT_TYPES), address=addresses)
def test_any_value_in_any_field_is_a_400_naming_it_or_accepted(client, fuzz_env, kind, data, style, auth,
                                                                content_type, address):
    signal = dict(fuzz_env[kind])
    field = data.draw(st.sampled_from(sorted(signal)), label="field")
    value = data.draw(st.one_of(json_values, number_texts, st.just(...)), label="value")
    if value is ...:
        del signal[field]
    else:
        signal[field] = value
    with rolled_back():
        raw, response = _request(client, signal, style=style, auth=auth, content_type=content_type, address=address)
        _check_stored(raw, response)
        if response.status_code == 400 and "errors" in response.json():
            errors = response.json()["errors"]
            assert errors and all(isinstance(m, list) and m for m in errors.values())
            if field != "type" and "non_field_errors" not in errors:
                # a bad price can also show as "stop must be below price"
                assert set(errors) <= {field, "stop"}, (field, value, errors)


timestamps = st.builds(
    lambda y, mo, d, h, mi, s, frac, sep, offset: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{s}{frac}{offset}",
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 60),
    st.sampled_from(["", ":00", ":59", ":60"]), st.sampled_from(["", ".5", ".123456", ".1234567"]),
    st.sampled_from(["T", " "]),
    st.sampled_from(["", "Z", "+05:30", "-01:00", "+14:00", "-23:59", "+2400", "+00", "-00:01", "+99:99"]),
)


@FUZZ
@given(kind=st.sampled_from(["exit", "bar", "monitor"]), timestamp=timestamps,
       price=st.one_of(numbers, number_texts), content_type=st.sampled_from(CONTENT_TYPES), address=addresses)
def test_timestamps_and_numbers_at_the_edges(client, fuzz_env, kind, timestamp, price, content_type, address):
    signal = {**fuzz_env[kind], "timestamp": timestamp, "price": price}
    with rolled_back():
        raw, response = _request(client, signal, style="ascii", auth="token", content_type=content_type,
                                 address=address)
        assert response.status_code in (202, 400)
        _check_stored(raw, response)
        if response.status_code == 400:
            assert set(response.json()["errors"]) <= {"timestamp", "price"}


@FUZZ
@given(doc=json_values, style=styles, auth=st.sampled_from(["body", "header", "token", "wrong", "none"]),
       content_type=st.sampled_from(CONTENT_TYPES), address=addresses)
def test_any_json_document_is_answered_without_a_5xx(client, fuzz_env, doc, style, auth, content_type, address):
    with rolled_back():
        raw, response = _request(client, doc, style=style, auth=auth, content_type=content_type, address=address)
        _check_stored(raw, response)


@FUZZ
@given(body=st.one_of(
    st.binary(max_size=512),
    st.binary(max_size=64).map(lambda b: b'{"type":"EXIT","secret":"' + b + b'"}'),
    st.integers(1, 6000).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"),
    st.integers(10_000, 10_400).map(lambda n: b'{"a":"' + b"x" * n + b'"}'),
), content_type=st.sampled_from(CONTENT_TYPES), token=st.booleans(), address=addresses)
def test_random_bytes_are_answered_without_a_5xx(client, fuzz_env, body, content_type, token, address):
    path = f"/webhook/{TOKEN}" if token else "/webhook"
    with rolled_back(), captured_alerts() as raised:
        response = client.post(path, data=body, content_type=content_type, REMOTE_ADDR=address)
        assert response.status_code in ANSWERS, (response.status_code, response.content[:300])
        assert "database_unreachable" not in raised
        assert response.status_code < 400 or not SignalLog.objects.exists()
