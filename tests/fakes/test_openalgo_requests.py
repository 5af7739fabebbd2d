"""Requests as OpenAlgo takes them: routes, schemas (unknown fields refused), api key, rate limit."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.helpers import GOLD, KEY, api, make_fake, order, place, status
from tests.fakes.openalgo_rules import SCHEMAS

# A valid body per endpoint (without the api key); orderid is filled in by the test.
VALID = {
    "placeorder": {"strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "BUY", "quantity": "1"},
    "modifyorder": {"strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "BUY", "product": "NRML",
                    "pricetype": "LIMIT", "price": "99", "quantity": "1", "disclosed_quantity": "0",
                    "trigger_price": "0", "orderid": None},
    "cancelorder": {"strategy": "T", "orderid": None},
    "orderstatus": {"strategy": "T", "orderid": None},
    "orderbook": {}, "tradebook": {}, "positionbook": {}, "funds": {}, "ping": {}, "analyzer": {},
    "analyzer/toggle": {"mode": False},
    "quotes": {"symbol": GOLD, "exchange": "MCX"},
    "symbol": {"symbol": GOLD, "exchange": "MCX"},
}


def test_the_allowed_fields_are_openalgos_schemas():
    assert set(SCHEMAS) == set(VALID)
    assert set(SCHEMAS["placeorder"]) == {"apikey", "strategy", "exchange", "symbol", "action", "quantity",
                                          "pricetype", "product", "price", "trigger_price",
                                          "disclosed_quantity", "underlying_ltp"}
    assert set(SCHEMAS["modifyorder"]) == set(SCHEMAS["placeorder"]) - {"underlying_ltp"} | {"orderid"}
    assert set(SCHEMAS["orderstatus"]) == set(SCHEMAS["cancelorder"]) == {"apikey", "strategy", "orderid"}


@pytest.mark.parametrize("endpoint", sorted(VALID))
def test_every_endpoint_answers_a_valid_body_and_refuses_an_unknown_field(fake, endpoint):
    fake.set_fault("placeorder", "pending")
    open_order = place(fake.url, pricetype="LIMIT", price="50")
    body = {k: (open_order if k == "orderid" else v) for k, v in VALID[endpoint].items()}
    answer = api(fake.url, endpoint, **body)
    assert answer.status_code == 200, answer.text
    refused = api(fake.url, endpoint, **body, tag="mine")
    assert refused.status_code == 400
    assert "tag" in str(refused.json()["message"]) and "Unknown field." in str(refused.json()["message"])


def test_routes_with_or_without_a_trailing_slash_and_numbers_as_strings(fake):
    with_slash = httpx.post(f"{fake.url}/api/v1/placeorder/", json={"apikey": KEY, **VALID["placeorder"]})
    assert with_slash.status_code == 200 and with_slash.json()["orderid"]
    as_numbers = order(fake.url, quantity=2, price=0, trigger_price=0, disclosed_quantity=0)
    assert as_numbers.status_code == 200
    assert httpx.post(f"{fake.url}/api/v1/ping/", json={"apikey": KEY}).status_code == 200
    assert httpx.get(f"{fake.url}/api/v1/ping").status_code == 405
    assert api(fake.url, "nosuchendpoint").status_code == 404
    assert [o["quantity"] for o in fake.orders()] == [1, 2]


def test_validation_failures_are_400_like_marshmallow(fake):
    def message(**fields) -> str:
        answer = order(fake.url, **fields)
        assert answer.status_code == 400, answer.text
        return answer.json()["message"]

    assert message(quantity="0") == "{'quantity': ['Quantity must be a positive number.']}"
    assert message(quantity="1.5").startswith("{'quantity': ['Fractional quantity")
    assert message(quantity="many") == "{'quantity': ['Not a valid number.']}"
    assert message(action="HOLD") == "{'action': ['Must be one of: BUY, SELL, buy, sell.']}"
    assert "Must be one of" in message(exchange="LME")
    assert message(price="-1") == "{'price': ['Price must be a non-negative number.']}"
    assert message(symbol=5) == "{'symbol': ['Not a valid string.']}"
    missing = api(fake.url, "placeorder", symbol=GOLD, exchange="MCX", action="BUY", quantity="1")
    assert missing.json()["message"] == "{'strategy': ['Missing data for required field.']}"
    assert fake.orders() == []
    book = api(fake.url, "positionbook", extra=1)  # some endpoints send the errors as an object
    assert book.status_code == 400 and book.json()["message"] == {"extra": ["Unknown field."]}


def test_orderstatus_and_cancelorder_require_strategy_and_orderid(fake):
    oid = place(fake.url)
    for endpoint in ("orderstatus", "cancelorder"):
        no_strategy = api(fake.url, endpoint, orderid=oid)
        assert no_strategy.status_code == 400 and "strategy" in no_strategy.json()["message"]
        no_id = api(fake.url, endpoint, strategy="T")
        assert no_id.status_code == 400 and "orderid" in no_id.json()["message"]
        numeric_id = api(fake.url, endpoint, strategy="T", orderid=int(oid))
        assert numeric_id.json()["message"] == "{'orderid': ['Not a valid string.']}"


def test_bad_api_key_is_403_after_the_schema_and_places_nothing(fake):
    for endpoint in ("placeorder", "orderbook", "ping", "symbol"):
        body = VALID[endpoint]
        answer = api(fake.url, endpoint, key="wrong", **body)
        assert (answer.status_code, answer.json()) == (403, {"status": "error", "message": "Invalid openalgo apikey"})
    assert api(fake.url, "ping", key="wrong", extra=1).status_code == 400  # the schema speaks first
    assert httpx.post(f"{fake.url}/api/v1/ping", json={}).status_code == 400  # no api key at all
    assert fake.orders() == []


def test_a_body_that_is_not_json_is_a_500_and_a_json_non_object_a_400(fake):
    garbled = httpx.post(f"{fake.url}/api/v1/ping", content=b"{not json")
    assert (garbled.status_code, garbled.json()["status"]) == (500, "error")
    listed = httpx.post(f"{fake.url}/api/v1/ping", json=[KEY])
    assert listed.status_code == 400 and listed.json()["message"] == {"_schema": ["Invalid input type."]}


def test_unknown_fields_accepted_only_by_explicit_switch():
    with make_fake(strict_fields=False) as fake:
        assert order(fake.url, tag="mine", client_ref="x").status_code == 200


def test_rate_limit_answers_429_with_retry_after_and_acts_on_nothing():
    with make_fake(order_rate_limit=3, api_rate_limit=5) as fake:
        codes = [order(fake.url).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = order(fake.url)
        assert limited.json() == {"status": "error", "message": "Rate limit exceeded. Please slow down your requests.",
                                  "retry_after": 60}
        assert len(fake.orders()) == 3
        assert [api(fake.url, "ping").status_code for _ in range(6)] == [200] * 5 + [429]  # per endpoint
        assert api(fake.url, "funds").status_code == 200
        fake.configure(order_rate_limit=None)
        assert order(fake.url).status_code == 200


def test_default_rate_limits_are_openalgos(fake):
    assert (fake.config()["order_rate_limit"], fake.config()["api_rate_limit"]) == (10, 50)
    started = time.monotonic()
    codes = [order(fake.url).status_code for _ in range(12)]
    assert codes[:10] == [200] * 10
    if time.monotonic() - started < 1.0:  # all twelve inside one window (the norm on loopback)
        assert codes[10:] == [429, 429]


def test_orderstatus_answers_for_an_unknown_order_with_404(fake):
    answer = status(fake.url, "999")
    assert (answer.status_code, answer.json()) == (404, {"status": "error", "message": "Order 999 not found"})
