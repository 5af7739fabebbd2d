"""Bank Nifty against the faithful fake OpenAlgo: whatever leg fails, partly fills or loses its answer,
and wherever the process dies, the broker never holds a short put beyond the calls that cover it —
checked on the fake's own book after every request — and once recovery has run, our books equal the
broker's (DESIGN §15.1; the pure planner's property test is tests/positions/test_legs.py)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from django.utils import timezone

from positions.models import Position
from positions.services import orders, settle
from reconciliation.models import Discrepancy
from reconciliation.services.reconcile import reconciliation_run
from reconciliation.services.triage import discrepancy_settle_order
from recovery.services.sweeper import sweep
from tests.signals.conftest import bank_legs


class Crash(BaseException):
    """Unwinds like a killed process: nothing in the product catches a BaseException."""


class Watched:
    """Wraps the fake's request handler: checks the put/call invariant after every request and can
    kill the process right after the broker acted on its n-th order request."""

    def __init__(self, fake, pe: str, ce: str, crash_after_order: int | None):
        self.fake, self.pe, self.ce, self.crash_after = fake, pe, ce, crash_after_order
        self.orders = 0
        self.violations: list[tuple[int, int]] = []
        self.original = fake.handle
        fake.handle = self.handle

    def handle(self, endpoint, body):
        reply = self.original(endpoint, body)
        short_puts, calls = -self.fake.position(self.pe, "NFO"), self.fake.position(self.ce, "NFO")
        if short_puts > calls:
            self.violations.append((short_puts, calls))
        if endpoint == "placeorder":
            self.orders += 1
            if self.orders == self.crash_after:
                self.crash_after = None
                raise Crash()
        return reply


def _recover():
    """What the leader's sweeper does after a crash, until nothing is left in flight.  An order whose
    answer died with the process and that the broker never took (it refused it) stays unresolved: ops
    look at the order book and declare it not placed."""
    later = timezone.now() + timedelta(minutes=3)
    for _ in range(4):
        sweep(now=later)
        later += timedelta(minutes=6)  # past any exit retry's backoff
        for record in Discrepancy.objects.filter(kind="unresolved_order", status="open"):
            discrepancy_settle_order(discrepancy_id=record.pk, actor="ops", note="not in the order book")


@pytest.fixture(autouse=True)
def brisk(monkeypatch):
    """Shorter waits between broker reads (the fake answers at once; its young-order quirk is off here)."""
    monkeypatch.setattr(orders, "CONFIRM_DELAYS", (0.0, 0.05, 0.1, 0.2))
    monkeypatch.setattr(orders, "SECOND_READ_AFTER", 0.05)
    monkeypatch.setattr(orders, "TRADE_BOOK_SETTLE", 0.05)
    monkeypatch.setattr(settle, "INLINE_RETRY_DELAYS", (0.05, 0.05))


FAILURES = ["clean", "call refused", "call part-filled", "put refused", "put part-filled", "put answer lost"]


def _arm(fake, watched: Watched, failure: str, pe: str, ce: str) -> None:
    """Make the entry's call (its first order) or put (its second) fail the given way."""
    if failure == "call refused":
        fake.set_fault("placeorder", "reject", count=1)
    elif failure == "call part-filled":
        fake.plan_fills(now=60, rest="cancel", symbol=ce)
    elif failure == "put part-filled":
        fake.plan_fills(now=30, rest="cancel", symbol=pe)
    elif failure in ("put refused", "put answer lost"):
        inner = watched.original

        def on_the_put(endpoint, body):
            if endpoint == "placeorder" and body.get("symbol") == pe and not on_the_put.armed:
                on_the_put.armed = True
                if failure == "put refused":
                    fake.set_fault("placeorder", "reject", count=1)
                else:
                    fake.lose_answers(1)
            return inner(endpoint, body)

        on_the_put.armed = False
        watched.original = on_the_put


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("crash_after", [None, 1, 2, 3, 4])
def test_no_short_put_beyond_its_calls_at_any_instant(fake, webhook, failure, crash_after):
    pe, ce = bank_legs(webhook)
    fake.set_price(pe, "150")
    fake.set_price(ce, "150")
    watched = Watched(fake, pe, ce, crash_after)
    _arm(fake, watched, failure, pe, ce)
    with contextlib.suppress(Crash):  # the armed crash may or may not hit this leg
        webhook.entry("BANK_NIFTY", minute=0, price=52000, stop=51650, atr=350, er=0.82)
    _recover()
    if Position.objects.filter(status="open").exists():
        fake.set_price(pe, "100")
        fake.set_price(ce, "700")
        with contextlib.suppress(Crash):
            webhook.exit("BANK_NIFTY", minute=5, price=52600)
        _recover()
    assert watched.violations == []
    assert fake.position(pe, "NFO") == -fake.position(ce, "NFO") == 0  # flat at the end
    assert reconciliation_run(trigger="manual")["outcome"] == "matched"
    assert not Position.objects.filter(status__in=["opening", "closing"]).exists()
