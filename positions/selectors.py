"""Reads for positions: live layers, the pyramiding state, intent batches, exposure, calendars.

Nothing here writes: a missing pyramiding state reads as None (services create it when they lock it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Q, QuerySet, Sum

from portfolio.equity import blended_equity, free_margin, position_risk, position_vol
from portfolio.models import Holiday, HolidayClosure, Instrument, PortfolioState
from positions import legs
from positions.calendars import TradingCalendar, is_rollover_candidate
from positions.models import (
    ACTIVE_PHASES,
    LIVE_STATUSES,
    IntentStatus,
    OrderIntent,
    Position,
    PositionStatus,
    PyramidingState,
    Rollover,
)
from positions.models.intent import QUEUE_HOLDING_STATUSES, TERMINAL_INTENT_STATUSES
from positions.pnl import unrealized_pnl

ZERO = Decimal("0")


def live_position(*, instrument: str, layer: int) -> Position | None:
    return Position.objects.filter(instrument_id=instrument, layer=layer, status__in=LIVE_STATUSES).first()


def open_positions(*, instrument: str, lock: bool = False, attach: Instrument | None = None) -> list[Position]:
    """The instrument's open positions in layer order.  ``attach``: the instrument as the caller already
    read it in this transaction, attached to each position rather than read again with it."""
    qs: QuerySet[Position] = Position.objects.filter(instrument_id=instrument, status=PositionStatus.OPEN)
    if lock:
        qs = qs.select_for_update()
    if attach is None:
        return list(qs.select_related("instrument").order_by("layer", "id"))
    positions = list(qs.order_by("layer", "id"))
    for position in positions:
        position.instrument = attach
    return positions


def pyramiding_state(*, instrument: str) -> PyramidingState | None:
    return PyramidingState.objects.select_related("base_position").filter(instrument_id=instrument).first()


def pyramid_anchor(*, instrument: str) -> tuple[Position | None, Decimal | None]:
    """What a pyramid is measured from, in one read of the pyramiding state: the instrument's base
    position if it is open, and the signal price of its latest executed entry (base or pyramid)."""
    state = pyramiding_state(instrument=instrument)
    if state is None:
        return None, None
    base = state.base_position
    return (base if base is not None and base.status == PositionStatus.OPEN else None), state.last_pyramid_price


def pyramids_since(*, base: Position) -> int:
    """Pyramids executed since the base opened (closed ones count; failed ones never opened)."""
    return Position.objects.filter(
        instrument_id=base.instrument_id,
        layer__gt=1,
        opened_at__gte=base.opened_at,
        status__in=[PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.CLOSED],
    ).count()


def live_positions(*, instrument: str) -> list[Position]:
    """The instrument's live positions (opening, open, closing) in layer order."""
    return list(Position.objects.filter(instrument_id=instrument, status__in=LIVE_STATUSES).order_by("layer", "id"))


def open_pnl(positions: list[Position], *, price: Decimal, point_value: Decimal) -> Decimal:
    """Unrealized P&L at ``price`` of those of ``positions`` that are open."""
    return sum((unrealized_pnl(entry_price=p.entry_price, mark_price=price, lots=p.lots, point_value=point_value)
                for p in positions if p.status == PositionStatus.OPEN), ZERO)


def has_queue_holding_intents(*, instrument: str) -> bool:
    """Orders of the instrument in flight that the worker or the sweeper settles within seconds."""
    return OrderIntent.objects.filter(position__instrument_id=instrument, status__in=QUEUE_HOLDING_STATUSES).exists()


def unresolved_intent_count(*, instrument: str) -> int:
    return OrderIntent.objects.filter(status=IntentStatus.UNRESOLVED, position__instrument_id=instrument).count()


def unresolved_intents() -> list[OrderIntent]:
    """Intents whose outcome stayed unknown past the resolution window: ops must settle them."""
    return list(OrderIntent.objects.filter(status=IntentStatus.UNRESOLVED).select_related("position").order_by("id"))


def signal_has_sent_orders(*, signal_id: int) -> bool:
    """Whether any order of the signal left the outbox (anything beyond PENDING or a never-sent cancel)."""
    return OrderIntent.objects.filter(signal_id=signal_id).exclude(status=IntentStatus.PENDING).exists()


def signal_positions(*, signal_id: int, status: str, opened_by: bool) -> list[int]:
    """Ids of the positions in ``status`` that the signal opened (``opened_by``) or is closing."""
    link = {"entry_signal_id": signal_id} if opened_by else {"exit_signal_id": signal_id}
    return list(Position.objects.filter(status=status, **link).order_by("id").values_list("pk", flat=True))


def _order_state(status: str) -> str:
    if status == IntentStatus.PENDING:
        return legs.PENDING
    return legs.DONE if status in TERMINAL_INTENT_STATUSES else legs.WORKING


def _as_orders(intents: QuerySet[OrderIntent]) -> list[legs.Order]:
    # Plain tuples, not model instances: the planner reads these few columns on every step.
    rows = intents.order_by("id").values_list("pk", "purpose", "leg", "action", "quantity", "filled_quantity",
                                              "status", "error")
    return [legs.Order(id=pk, purpose=purpose, leg=leg, action=action, quantity=quantity, filled=filled,
                       state=_order_state(status), error=error)
            for pk, purpose, leg, action, quantity, filled, status, error in rows]


def position_orders(position: Position, purposes: tuple[str, ...]) -> list[legs.Order]:
    """The position's orders of these purposes not yet booked elsewhere, as the leg planner sees them
    (in the order they were recorded)."""
    return _as_orders(position.intents.filter(purpose__in=purposes))


def rollover_orders(rollover: Rollover, purpose: str) -> list[legs.Order]:
    """One phase's orders of a rollover (``rollover_close`` or ``rollover_open``), for the planner."""
    return _as_orders(rollover.intents.filter(purpose=purpose))


def active_rollover(*, position_id: int) -> Rollover | None:
    return Rollover.objects.filter(position_id=position_id, phase__in=ACTIVE_PHASES).first()


def rollover_exit_state(*, position_id: int) -> tuple[str, Rollover | None]:
    """What an exit of the position would meet (DESIGN §8): ``none`` (no rollover), ``cancellable``
    (nothing of the old contract closed yet), ``flat`` (old contract closed, nothing of the new one
    held yet) or ``busy`` (a leg at the broker, or a phase part-filled: the exit must wait)."""
    roll = active_rollover(position_id=position_id)
    if roll is None:
        return "none", None
    phase_purpose = "rollover_close" if roll.phase == "closing" else "rollover_open"
    filled = 0
    for purpose, status, quantity in roll.intents.values_list("purpose", "status", "filled_quantity"):
        if status not in (IntentStatus.PENDING, *TERMINAL_INTENT_STATUSES):
            return "busy", roll
        filled += quantity if purpose == phase_purpose else 0
    if filled:
        return "busy", roll
    return ("cancellable" if roll.phase == "closing" else "flat"), roll


def rollover_busy(*, instrument: str) -> bool:
    """Whether an exit of the instrument would have to wait for a rollover leg now."""
    rolling = Rollover.objects.filter(position__instrument_id=instrument, phase__in=ACTIVE_PHASES)
    return any(rollover_exit_state(position_id=pk)[0] == "busy" for pk in rolling.values_list("position_id", flat=True))


def flagged_rollovers() -> list[Rollover]:
    """Rollovers under way that asked ops to step in (flat between the old contract and the new)."""
    return list(Rollover.objects.filter(phase__in=ACTIVE_PHASES, flagged_at__isnull=False)
                .select_related("position__instrument").order_by("id"))


def rollovers_due(*, now, exchange: str | None = None) -> list[int]:
    """Active rollovers with no retry pending beyond ``now`` (oldest first)."""
    rows = Rollover.objects.filter(phase__in=ACTIVE_PHASES).filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    if exchange is not None:
        rows = rows.filter(position__instrument__exchange=exchange)
    return list(rows.order_by("id").values_list("pk", flat=True))


def rollover_candidates(*, today) -> list[Position]:
    """Open positions fewer than their instrument's ``rollover_days`` calendar days from expiry (an
    expired one too) with no rollover under way (DESIGN §8)."""
    rolling = Rollover.objects.filter(phase__in=ACTIVE_PHASES).values("position_id")
    rows = (Position.objects.filter(status=PositionStatus.OPEN).exclude(pk__in=rolling)
            .select_related("instrument").order_by("expiry", "id"))
    calendars: dict[str, TradingCalendar] = {}

    def expiry(position: Position):
        """The stored expiry, moved back when a holiday imported since falls on it."""
        exchange = position.instrument.exchange
        calendar = calendars.setdefault(exchange, trading_calendar(exchange))
        return calendar.previous_trading_day(position.expiry)

    return [p for p in rows
            if is_rollover_candidate(expiry=expiry(p), today=today, rollover_days=p.instrument.rollover_days)]


def positions_due_for_retry(*, now) -> list[int]:
    """Positions whose failed exit (or entry unwinding) is due to be tried again."""
    return list(Position.objects.filter(retry_at__isnull=False, retry_at__lte=now,
                                        status__in=[PositionStatus.OPENING, PositionStatus.CLOSING])
                .order_by("retry_at", "id").values_list("pk", flat=True))


def trading_calendar(exchange: str) -> TradingCalendar:
    """Days that count as trading days for expiries: weekdays whose day (morning) session trades.  A holiday
    closing the whole day or the morning session moves an expiry (MCX moved Copper's 31 Mar 2025 expiry for
    a morning-only closure); one closing only the evening session (MCX, 1 Jan) does not."""
    closed = Holiday.objects.filter(exchange=exchange).exclude(closed=HolidayClosure.EVENING)
    return TradingCalendar(frozenset(closed.values_list("date", flat=True)))


@dataclass(frozen=True)
class Exposure:
    """Portfolio totals derived from positions (never stored as the source of truth)."""

    margin_used: Decimal
    risk: Decimal
    vol: Decimal
    unrealized_pnl: Decimal

    def blended(self, state: PortfolioState) -> Decimal:
        return blended_equity(
            closed_equity=state.closed_equity, unrealized_pnl=self.unrealized_pnl, weight=state.unrealized_weight
        )

    def margin_free(self, state: PortfolioState) -> Decimal:
        return free_margin(
            equity_high=state.equity_high, margin_in_use=self.margin_used,
            margin_limit_percent=state.margin_limit_percent,
        )


def portfolio_exposure() -> Exposure:
    """Margin of positions that hold or are acquiring broker margin (opening, open, and closing: a
    position being closed holds its margin until it is flat — DESIGN Appendix A); risk and volatility
    of positions that can still lose (opening, open); unrealized P&L of positions still held (open,
    closing), marked at the instrument's last bar."""
    margin = risk = vol = unrealized = ZERO
    # Only the columns the sums need: this runs in every entry's decision and booking.
    rows = Position.objects.filter(status__in=LIVE_STATUSES).values_list(
        "status", "lots", "entry_price", "signal_price", "current_stop", "entry_atr",
        "instrument__margin_per_lot", "instrument__point_value", "instrument__mark_price")
    for status, lots, entry_price, signal_price, stop, entry_atr, margin_per_lot, point_value, mark_price in rows:
        entry = entry_price if entry_price is not None else signal_price
        margin += lots * margin_per_lot
        if status in (PositionStatus.OPENING, PositionStatus.OPEN):
            risk += position_risk(entry_price=entry, current_stop=stop, lots=lots, point_value=point_value)
            vol += position_vol(entry_atr=entry_atr, lots=lots, point_value=point_value)
        if status in (PositionStatus.OPEN, PositionStatus.CLOSING):
            mark = mark_price if mark_price is not None else entry
            unrealized += unrealized_pnl(entry_price=entry, mark_price=mark, lots=lots, point_value=point_value)
    return Exposure(margin_used=margin, risk=risk, vol=vol, unrealized_pnl=unrealized)


def closed_trade_figures() -> dict:
    """Trade counters re-derived from closed positions (the source of truth for statistics).  A rolled
    position's result is its final contract's P&L plus what its rollovers booked (each once)."""
    closed = Position.objects.filter(status=PositionStatus.CLOSED).annotate(
        total=ExpressionWrapper(F("realized_pnl") + F("rollover_pnl"), output_field=DecimalField()))
    figures = closed.aggregate(
        trades=Count("pk"), wins=Count("pk", filter=Q(total__gt=0)),
        losses=Count("pk", filter=Q(total__lt=0)), stops=Count("pk", filter=Q(exit_reason="PM_STOP_HIT")),
        profit=Sum("total", filter=Q(total__gt=0)), loss=Sum("total", filter=Q(total__lt=0)),
        net=Sum("total"), best=Max("total"), worst=Min("total"),
    )
    opened = Position.objects.exclude(opened_at=None)
    return {
        "trades_closed": figures["trades"], "exits": figures["trades"], "winning_trades": figures["wins"],
        "losing_trades": figures["losses"], "stop_exits": figures["stops"],
        "gross_profit": figures["profit"] or ZERO, "gross_loss": figures["loss"] or ZERO,
        "net_realized_pnl": figures["net"] or ZERO, "largest_win": max(figures["best"] or ZERO, ZERO),
        "largest_loss": min(figures["worst"] or ZERO, ZERO),
        "base_entries": opened.filter(layer=1).count(), "pyramid_entries": opened.filter(layer__gt=1).count(),
        "rollovers": Rollover.objects.filter(phase="done").count(),
    }
