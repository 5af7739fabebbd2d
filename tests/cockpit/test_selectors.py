"""The cockpit's reads against PostgreSQL: the equity curve agrees with the ledger service, the book
figures with the positions, the unresolved-order count with its definition."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from cockpit import selectors
from portfolio.models import CapitalTransaction, Instrument, PortfolioState
from portfolio.services import ledger_post, locked_state
from tests.factories import make_position, make_signal

pytestmark = pytest.mark.django_db


def _post_random_ledger(rows: int, seed: int = 7) -> dict[int, tuple[Decimal, Decimal]]:
    """Deposits, withdrawals and rollover P&L through the ledger service; returns, by ledger row id,
    the (closed equity, equity high) the service kept after it."""
    rng = random.Random(seed)
    position = make_position(status="closed")
    kept = {}
    for n in range(rows):
        kind = rng.choice(["DEPOSIT", "WITHDRAW", "ROLLOVER_PNL", "ROLLOVER_PNL", "ROLLOVER_PNL"])
        amount = Decimal(rng.randint(1000, 90000))
        amount = -amount if kind == "WITHDRAW" or (kind == "ROLLOVER_PNL" and rng.random() < 0.45) else amount
        with transaction.atomic():
            state = locked_state()
            entry = ledger_post(state=state, kind=kind, amount=amount, actor="t",
                                position=position if "PNL" in kind else None, rollover_number=n if "PNL" in kind else None)
        kept[entry.pk] = (state.closed_equity, state.equity_high)
    return kept


def _by_time() -> dict:
    return {row.created_at: row.pk for row in CapitalTransaction.objects.all()}


def test_equity_curve_has_the_ledger_services_closed_equity_and_high(portfolio):
    kept = _post_random_ledger(60)
    first = CapitalTransaction.objects.order_by("id").first()
    kept[first.pk] = (portfolio.closed_equity, portfolio.equity_high)
    curve = selectors.equity_curve(since=None, points=5000)
    at = _by_time()
    assert len(curve.points) == 61  # five thousand probes find every one of the 61 entries
    assert [(p.closed, p.high) for p in curve.points] == [kept[at[p.at]] for p in curve.points]
    state = PortfolioState.objects.get()
    assert (curve.points[-1].closed, curve.points[-1].high) == (state.closed_equity, state.equity_high)
    flows = CapitalTransaction.objects.filter(kind__in=["DEPOSIT", "WITHDRAW"])
    assert curve.flow_count == flows.count() and curve.flows[-1].amount == flows.order_by("id").last().amount


def test_equity_curve_is_bounded_and_opens_with_the_value_before_the_range(portfolio):
    kept = _post_random_ledger(90)
    curve = selectors.equity_curve(since=None, points=10)
    assert len(curve.points) <= 11
    assert (curve.points[-1].closed, curve.points[-1].high) == kept[max(kept)]
    rows = list(CapitalTransaction.objects.order_by("id"))
    cut = rows[61].created_at - timedelta(microseconds=1)
    ranged = selectors.equity_curve(since=cut, points=2000)
    assert ranged.start == cut and ranged.points[0].at == cut
    assert (ranged.points[0].closed, ranged.points[0].high) == kept[rows[60].pk]
    assert ranged.points[1].at == rows[61].created_at


def test_open_books_show_distance_to_stop_pnl_and_rollover(portfolio):
    Instrument.objects.filter(code="GOLD_MINI").update(mark_price=Decimal("74500"), mark_at=timezone.now())
    expiry = timezone.localdate() + timedelta(days=5)
    make_position(layer=1, lots=9, price="72000", initial_stop=Decimal(71500), current_stop=Decimal(73500),
                  expiry=expiry)
    make_position(layer=2, lots=4, price="73200", initial_stop=Decimal(72700), current_stop=Decimal(73500),
                  expiry=expiry, rollover_status="failed")
    make_position(layer=3, lots=2, status="closed")
    (book,) = selectors.open_books()
    base, pyramid = book.rows
    assert (base.distance.r, base.distance.money, base.open_pnl) == (Decimal("2.00"), Decimal(90000), Decimal(225000))
    assert (base.days_to_expiry, base.rollover, pyramid.rollover) == (5, "due", "failed")
    assert (book.lots, book.open_pnl) == (13, Decimal(225000) + Decimal(52000))


def test_unresolved_orders_are_those_the_broker_edge_gave_up_on(portfolio):
    from positions.models import OrderIntent

    position = make_position()
    now = timezone.now()
    for n, (status, sent_ago) in enumerate([("UNKNOWN", 5), ("SENT", 5), ("UNRESOLVED", 300), ("UNRESOLVED", 200),
                                            ("FILLED", 600), ("PENDING", None), ("ACCEPTED", 600)]):
        OrderIntent.objects.create(
            client_order_id=f"pm-t-{n}", position=position, purpose="entry", leg="FUT", sequence=n, symbol="GOLDM",
            exchange="MCX", action="BUY", quantity=1, status=status,
            sent_at=None if sent_ago is None else now - timedelta(seconds=sent_ago),
            **({"fill_price": Decimal(1), "filled_quantity": 1} if status == "FILLED" else {}))
    assert selectors.unresolved_order_count() == 2


def test_todays_signals_count_every_status_and_skip_yesterday(portfolio):
    make_signal(status="executed")
    make_signal(status="blocked", reason="portfolio_risk")
    make_signal(instrument="COPPER", status="rejected")
    make_signal(status="executed", received_at=timezone.now() - timedelta(days=1, hours=1))
    day = selectors.todays_signals(limit=2)
    assert day.counts == {"executed": 1, "blocked": 1, "rejected": 1} and day.total == 3
    assert len(day.marks) == 2 and {"COPPER", "GOLD_MINI", "BANK_NIFTY", "SILVER_MINI"} <= set(day.instruments)
    assert day.latest[0]["url"].endswith(f"/{day.latest[0]['id']}/change/")


@pytest.mark.django_db(transaction=True)
def test_health_strip_lists_live_instances_with_heartbeat_age(portfolio):
    from core.services import instance_register

    me = instance_register(role="web")
    strip = selectors.health_strip()
    assert strip["report"]["checks"]["database"]["status"] == "ok"
    (instance,) = strip["instances"]
    assert instance["instance_id"] == me.instance_id and instance["age"] < timedelta(seconds=30)
    assert strip["open_discrepancies"] == 0 and strip["last_reconciliation"] is None
    assert strip["unresolved_url"].endswith("?status__exact=UNRESOLVED")
