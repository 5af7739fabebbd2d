"""The adapter's HTTP rules against the faithful fake: faults map to typed errors, placeorder is sent
once, reads retry, 429 honours ``retry_after``, and the api key never leaks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest
from structlog.testing import capture_logs

from positions.broker.base import (
    BrokerOutcomeUnknown,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderAccepted,
    OrderRequest,
    OrderState,
)
from tests.fakes.openalgo_server import FakeOpenAlgo
from tests.positions.broker.helpers import GOLD, KEY, FakeClock, assert_key_hidden, buy_gold, make_broker

# ---------------------------------------------------------------- place_order under faults

PLACE_FAULTS = [
    ("http_500", {}, BrokerOutcomeUnknown, False),
    ("http_500", {"accept": True}, BrokerOutcomeUnknown, True),
    ("timeout_after_accept", {"seconds": 1.5}, BrokerOutcomeUnknown, True),
    ("success_without_orderid", {}, BrokerOutcomeUnknown, False),
    ("malformed_body", {}, BrokerOutcomeUnknown, False),
    ("delay", {"seconds": 1.5}, BrokerOutcomeUnknown, None),  # placed when the delay ends
    ("http_429", {}, BrokerRateLimited, False),
    ("reject", {"message": "RMS: margin shortfall"}, BrokerRejected, False),
    ("session_expired", {}, BrokerUnavailable, False),
]


@pytest.mark.parametrize(("mode", "params", "error", "placed"), PLACE_FAULTS,
                         ids=[f"{m}-{'accept' if p.get('accept') else 'plain'}" for m, p, *_ in PLACE_FAULTS])
def test_place_order_fault_maps_to_typed_error_and_is_sent_once(fake, broker, mode, params, error, placed):
    fake.set_fault("placeorder", mode, **params)
    with pytest.raises(error) as caught:
        broker.place_order(buy_gold())
    assert type(caught.value) is error  # e.g. a session expiry is not reported as a rate limit
    assert fake.request_count("placeorder") == 1
    assert_key_hidden(caught.value)
    if placed is not None:
        assert len(fake.orders()) == (1 if placed else 0)
    if mode == "reject":
        assert "RMS: margin shortfall" in str(caught.value)
    if mode == "http_429":
        assert caught.value.retry_after == 60  # OpenAlgo's body says so; nothing was placed


def test_a_lost_placeorder_answer_is_outcome_unknown_and_the_order_is_in_the_book(fake, broker):
    """Accepted, then the connection dropped: found (no tag) by symbol, side, quantity and time."""
    fake.lose_answers(1)
    sent_at = datetime.now(timezone.utc)
    with pytest.raises(BrokerOutcomeUnknown) as caught:
        broker.place_order(buy_gold(quantity=3))
    assert_key_hidden(caught.value)
    assert fake.request_count("placeorder") == 1 and fake.position(GOLD, "MCX") == 3
    [found] = broker.order_book()
    assert (found.symbol, found.action, found.quantity, found.tag) == (GOLD, "BUY", 3, None)
    assert found.placed_at >= sent_at.replace(microsecond=0) - timedelta(seconds=1)


def test_timeout_after_accept_leaves_a_filled_order_so_resending_would_double(fake, broker):
    fake.set_fault("placeorder", "timeout_after_accept", seconds=1.5)
    with pytest.raises(BrokerOutcomeUnknown):
        broker.place_order(buy_gold())
    [order] = fake.orders()
    assert order["order_status"] == "complete" and fake.position(GOLD, "MCX") == 1
    [found] = broker.order_book()
    assert (found.symbol, found.action, found.quantity, found.status) == (GOLD, "BUY", 1, OrderState.COMPLETE)
    assert fake.request_count("placeorder") == 1


def test_connection_refused_is_unavailable(fake):
    url = fake.url
    fake.stop()
    with make_broker(url) as client:
        with pytest.raises(BrokerUnavailable) as caught:
            client.place_order(buy_gold())
        assert type(caught.value) is BrokerUnavailable
        assert_key_hidden(caught.value)
        with pytest.raises(BrokerUnavailable):
            client.order_book()


def test_wrong_api_key_is_unavailable_and_nothing_is_placed(fake):
    wrong = "wrong-key-3b9f"
    with make_broker(fake.url, api_key=wrong) as client:
        with pytest.raises(BrokerUnavailable) as caught:
            client.place_order(buy_gold())
        assert type(caught.value) is BrokerUnavailable
        assert_key_hidden(caught.value, wrong, KEY)
        with pytest.raises(BrokerUnavailable):
            client.ping()
    assert fake.orders() == []
    assert fake.request_count("ping") == 1  # an auth failure is not retried


def test_the_api_key_never_reaches_the_logs(fake, broker):
    fake.set_fault("placeorder", "http_500")
    fake.set_fault("orderbook", "http_500", count=None)
    with capture_logs() as logs:
        with pytest.raises(BrokerOutcomeUnknown):
            broker.place_order(buy_gold())
        with pytest.raises(BrokerUnavailable):
            broker.order_book()
    assert logs and KEY not in repr(logs)


# ---------------------------------------------------------------- reads retry


def test_read_retries_5xx_then_succeeds(fake, broker):
    order_id = broker.place_order(buy_gold()).order_id
    fake.set_fault("orderbook", "http_500", count=2)
    assert [o.order_id for o in broker.order_book()] == [order_id]
    assert fake.request_count("orderbook") == 3


def test_read_retries_after_timeout(fake, broker):
    fake.set_position(GOLD, "MCX", 2, average_price=72000)
    fake.set_fault("positionbook", "delay", seconds=1.5)
    assert broker.positions()[0].net_quantity == 2
    assert fake.request_count("positionbook") == 2


def test_read_gives_up_after_retries(fake, broker):
    fake.set_fault("orderstatus", "http_500", count=None)
    with pytest.raises(BrokerUnavailable) as caught:
        broker.order_status("25000000000001")
    assert type(caught.value) is BrokerUnavailable
    assert fake.request_count("orderstatus") == 1 + broker.read_retries
    assert_key_hidden(caught.value)


def test_a_young_order_answering_500_is_read_again(fake):
    """OpenAlgo's status mapping fails (500) on an order in a transient broker state."""
    order_id = None
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the young state passes while the adapter backs off
        waits.append(seconds)
        fake.set_transient(order_id, seconds=0)

    with make_broker(fake.url, sleep=sleep) as broker:
        order_id = broker.place_order(buy_gold()).order_id
        fake.set_transient(order_id, seconds=None, error=True)
        assert broker.order_status(order_id).status == OrderState.COMPLETE
        assert len(waits) == 1 and fake.request_count("orderstatus") == 2
        fake.set_transient(order_id, seconds=None, error=True)
        with pytest.raises(BrokerUnavailable):
            with make_broker(fake.url, read_retries=0) as impatient:
                impatient.order_status(order_id)


def test_backoff_is_exponential():
    delays: list[float] = []
    with FakeOpenAlgo(api_key=KEY) as server:
        server.set_fault("ping", "http_500", count=None)
        with make_broker(server.url, read_retries=3, retry_backoff=0.2, sleep=delays.append) as client:
            with pytest.raises(BrokerUnavailable):
                client.ping()
    assert delays == [0.2, 0.4, 0.8]


def test_read_rejection_and_session_expiry_are_not_retried(fake, broker):
    fake.set_fault("quotes", "reject", message="Invalid symbol")
    with pytest.raises(BrokerRejected, match="Invalid symbol"):
        broker.quote("NOPE", "MCX")
    fake.set_fault("ping", "session_expired")
    with pytest.raises(BrokerUnavailable) as caught:
        broker.ping()
    assert type(caught.value) is BrokerUnavailable
    assert (fake.request_count("quotes"), fake.request_count("ping")) == (1, 1)


# ---------------------------------------------------------------- 429 and retry_after


def test_a_short_retry_after_is_waited_out(fake):
    waits: list[float] = []
    with make_broker(fake.url, max_read_wait=60, sleep=waits.append) as broker:
        order_id = broker.place_order(buy_gold()).order_id
        fake.set_fault("orderbook", "http_429")
        assert [o.order_id for o in broker.order_book()] == [order_id]
    assert waits == [60] and fake.request_count("orderbook") == 2


def test_a_long_retry_after_stops_reads_of_that_endpoint_until_it_passes(fake):
    clock = FakeClock()
    waits: list[float] = []
    with make_broker(fake.url, clock=clock, sleep=waits.append) as broker:  # max_read_wait 2 s
        fake.set_fault("orderbook", "http_429")
        with pytest.raises(BrokerRateLimited) as caught:
            broker.order_book()
        assert caught.value.retry_after == 60 and waits == []  # raised at once, no wait
        assert_key_hidden(caught.value)

        clock.now += 59
        with pytest.raises(BrokerRateLimited) as caught:
            broker.order_book()
        assert caught.value.retry_after == pytest.approx(1)
        assert fake.request_count("orderbook") == 1  # not called while the limit lasts
        assert broker.positions() == []  # other endpoints are not held back

        clock.now += 1
        assert broker.order_book() == []
        assert fake.request_count("orderbook") == 2


def test_a_rate_limited_placeorder_is_not_placed_and_later_orders_still_go(fake):
    clock = FakeClock()
    with make_broker(fake.url, clock=clock) as broker:
        fake.set_fault("placeorder", "http_429")
        with pytest.raises(BrokerRateLimited) as caught:
            broker.place_order(buy_gold())
        assert caught.value.retry_after == 60 and fake.orders() == []
        assert isinstance(broker.place_order(buy_gold("next")), OrderAccepted)  # never retried by us
    assert fake.request_count("placeorder") == 2


def test_an_order_over_the_gateways_rate_limit_is_refused_not_placed(fake, broker):
    fake.configure(order_rate_limit=2)  # per second (OpenAlgo's default is 10)
    broker.place_order(buy_gold("1"))
    broker.place_order(buy_gold("2"))
    with pytest.raises(BrokerRateLimited):
        broker.place_order(buy_gold("3"))
    assert len(fake.orders()) == 2


def _answer(status: int, body: bytes | dict, headers: dict | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(body, dict):
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(status, content=body, headers=headers)

    return httpx.MockTransport(handle)


def test_retry_after_header_when_the_body_has_none():
    body = {"status": "error", "message": "Rate limit exceeded"}
    in_two_minutes = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    seen = []
    for headers in ({"Retry-After": "30"}, {"Retry-After": in_two_minutes}, {"Retry-After": "soon"}, {}):
        with make_broker("http://127.0.0.1:9", transport=_answer(429, body, headers), sleep=lambda s: None,
                         clock=FakeClock()) as broker:
            with pytest.raises(BrokerRateLimited) as caught:
                broker.ping()
        seen.append(caught.value.retry_after)
    assert seen[0] == 30 and 60 < seen[1] <= 120 and seen[2:] == [None, None]


def test_a_html_404_from_a_misrouted_url_is_not_an_unknown_order():
    with make_broker("http://127.0.0.1:9", transport=_answer(404, b"<html>Not Found</html>")) as broker:
        with pytest.raises(BrokerUnavailable):
            broker.order_status("25000000000001")
        with pytest.raises(BrokerUnavailable):
            broker.place_order(buy_gold())  # refused in front of OpenAlgo: not placed


def test_an_answer_without_order_id_or_pending_id_is_outcome_unknown():
    body = {"status": "success", "message": "Order placed"}
    with make_broker("http://127.0.0.1:9", transport=_answer(200, body)) as broker:
        with pytest.raises(BrokerOutcomeUnknown):
            broker.place_order(OrderRequest("x", GOLD, "MCX", "BUY", 1))


def test_modify_is_sent_once_and_a_5xx_leaves_its_outcome_unknown(fake, broker):
    fake.set_price(GOLD, 72000)
    order_id = broker.place_order(buy_gold(price_type="LIMIT", price=Decimal("71000"))).order_id
    fields = {"symbol": GOLD, "exchange": "MCX", "action": "BUY", "quantity": 1, "price_type": "LIMIT",
              "price": Decimal("71100")}
    fake.set_fault("modifyorder", "http_500")
    with pytest.raises(BrokerOutcomeUnknown):
        broker.modify_order(order_id, **fields)
    fake.set_fault("modifyorder", "http_429")
    with pytest.raises(BrokerRateLimited):
        broker.modify_order(order_id, **fields)
    assert fake.request_count("modifyorder") == 2


def test_a_cancel_without_an_answer_is_sent_again(fake, broker):
    """Repeating a cancel is harmless: a second one on a cancelled order is a 500 and a status read."""
    fake.set_fault("placeorder", "pending")
    order_id = broker.place_order(buy_gold()).order_id
    fake.set_fault("cancelorder", "timeout_after_accept", seconds=1.5)
    broker.cancel_order(order_id)
    assert fake.request_count("cancelorder") == 2
    assert broker.order_status(order_id).status == OrderState.CANCELLED
