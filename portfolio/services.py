"""Writers for the portfolio app: initialisation, the equity ledger, capital flows, the pause switch.

Every function is atomic and keyword-only.  The ledger and ``PortfolioState.closed_equity`` change
together under a row lock on the single state row, so the state always equals the ledger's sum.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portfolio.equity import apply_ledger_entry
from portfolio.models import CapitalTransaction, PortfolioState, TradingStatistics, TransactionKind

MAX_CAPITAL = Decimal("1000000000000")  # ₹1 lakh crore: anything above is a typo


class PortfolioNotInitialised(Exception):
    """Raised when a service needs the portfolio state and ``init_portfolio`` was never run."""


def parse_amount(value: object, *, field: str = "amount") -> Decimal:
    """A strictly positive rupee amount with at most two decimals, or ValidationError naming ``field``."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"must be a number, got {value!r}"}) from None
    if not amount.is_finite():
        raise ValidationError({field: "must be a finite number"})
    if amount <= 0:
        raise ValidationError({field: "must be greater than zero"})
    if amount > MAX_CAPITAL:
        raise ValidationError({field: f"must not exceed {MAX_CAPITAL}"})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: "must have at most two decimal places"})
    return amount


def locked_state() -> PortfolioState:
    """The portfolio row, locked until the end of the current transaction."""
    state = PortfolioState.objects.select_for_update().filter(pk=PortfolioState.SINGLETON_ID).first()
    if state is None:
        raise PortfolioNotInitialised("run `manage.py init_portfolio --capital N` first")
    return state


@transaction.atomic
def portfolio_initialise(*, capital: object, actor: str) -> tuple[PortfolioState, bool]:
    """Create the portfolio state and its opening DEPOSIT once.  Returns (state, created)."""
    amount = parse_amount(capital, field="capital")
    existing = PortfolioState.objects.select_for_update().filter(pk=PortfolioState.SINGLETON_ID).first()
    if existing is not None:
        return existing, False
    state = PortfolioState.objects.create(
        initial_capital=amount, closed_equity=Decimal("0"), equity_high=Decimal("0")
    )
    TradingStatistics.objects.get_or_create(pk=1)
    ledger_post(state=state, kind=TransactionKind.DEPOSIT, amount=amount, actor=actor, note="Opening capital")
    return state, True


def ledger_post(
    *,
    state: PortfolioState,
    kind: str,
    amount: Decimal,
    actor: str,
    position=None,
    rollover_number: int | None = None,
    note: str = "",
) -> CapitalTransaction:
    """Append one ledger row and move the state's equity with it.

    The caller holds the state row lock (``locked_state()``) inside its own transaction, so the
    ledger row, the equity and any position change commit together or not at all.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post must run inside a transaction holding the portfolio lock")
    before = state.closed_equity
    closed, high = apply_ledger_entry(
        closed_equity=before, equity_high=state.equity_high, kind=kind, amount=amount
    )
    entry = CapitalTransaction.objects.create(
        kind=kind,
        amount=amount,
        equity_before=before,
        equity_after=closed,
        position=position,
        rollover_number=rollover_number,
        note=note,
        created_by=actor,
    )
    state.closed_equity, state.equity_high = closed, high
    state.version += 1
    state.save(update_fields=["closed_equity", "equity_high", "version", "updated_at"])
    return entry


@transaction.atomic
def capital_deposit(*, amount: object, actor: str, note: str = "") -> CapitalTransaction:
    value = parse_amount(amount)
    return ledger_post(state=locked_state(), kind=TransactionKind.DEPOSIT, amount=value, actor=actor, note=note)


@transaction.atomic
def capital_withdraw(*, amount: object, actor: str, note: str = "") -> CapitalTransaction:
    value = parse_amount(amount)
    state = locked_state()
    if value > state.closed_equity:
        raise ValidationError({"amount": f"exceeds closed equity {state.closed_equity}"})
    return ledger_post(state=state, kind=TransactionKind.WITHDRAW, amount=-value, actor=actor, note=note)


@transaction.atomic
def trading_pause(*, reason: str, actor: str) -> PortfolioState:
    """Stop new entries and pyramids (exits, stops and rollovers keep running)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "is required to pause trading"})
    if len(reason) > 200:
        raise ValidationError({"reason": "must be at most 200 characters"})
    state = locked_state()
    state.paused, state.paused_reason = True, reason
    state.paused_at, state.paused_by = timezone.now(), actor
    state.version += 1
    state.save(update_fields=["paused", "paused_reason", "paused_at", "paused_by", "version", "updated_at"])
    _audit(actor=actor, action="trading_paused", note=reason)
    return state


@transaction.atomic
def trading_resume(*, actor: str) -> PortfolioState:
    state = locked_state()
    was_paused = state.paused
    state.paused, state.paused_reason, state.paused_at, state.paused_by = False, "", None, ""
    state.version += 1
    state.save(update_fields=["paused", "paused_reason", "paused_at", "paused_by", "version", "updated_at"])
    if was_paused:
        _audit(actor=actor, action="trading_resumed")
    return state


def _audit(*, actor: str, action: str, note: str = "") -> None:
    from core.services import audit_record

    audit_record(actor=actor, action=action, target_type="portfolio", target_id="1", note=note)


def statistics_bump(**increments) -> None:
    """Add to the running counters (one row, updated in the caller's transaction)."""
    from django.db.models import F

    changes = {name: F(name) + value for name, value in increments.items()}
    if not TradingStatistics.objects.filter(pk=1).update(**changes):
        TradingStatistics.objects.get_or_create(pk=1)
        TradingStatistics.objects.filter(pk=1).update(**changes)


def statistics_record_trade(*, pnl: Decimal, stop_exit: bool) -> None:
    from django.db.models import F
    from django.db.models.functions import Greatest, Least

    TradingStatistics.objects.get_or_create(pk=1)
    win = pnl > 0
    TradingStatistics.objects.filter(pk=1).update(
        exits=F("exits") + 1,
        stop_exits=F("stop_exits") + (1 if stop_exit else 0),
        trades_closed=F("trades_closed") + 1,
        winning_trades=F("winning_trades") + (1 if win else 0),
        losing_trades=F("losing_trades") + (1 if pnl < 0 else 0),
        gross_profit=F("gross_profit") + (pnl if win else 0),
        gross_loss=F("gross_loss") + (pnl if pnl < 0 else 0),
        net_realized_pnl=F("net_realized_pnl") + pnl,
        largest_win=Greatest(F("largest_win"), pnl),
        largest_loss=Least(F("largest_loss"), pnl),
    )


def portfolio_totals_refresh(*, state: PortfolioState) -> None:
    """Store the derived exposure on the (locked) state row for display and cheap reads."""
    from portfolio.selectors import portfolio_exposure

    exposure = portfolio_exposure()
    state.total_risk_amount = exposure.risk.quantize(Decimal("0.01"))
    state.total_vol_amount = exposure.vol.quantize(Decimal("0.01"))
    state.margin_used = exposure.margin_used.quantize(Decimal("0.01"))
    state.unrealized_pnl = exposure.unrealized_pnl.quantize(Decimal("0.01"))
    state.version += 1
    state.save(update_fields=["total_risk_amount", "total_vol_amount", "margin_used", "unrealized_pnl", "version",
                              "updated_at"])


@transaction.atomic
def statistics_aggregate() -> TradingStatistics:
    """Re-derive the trade counters from positions and the ledger (the sources of truth).

    Signal counters are kept as signals finish (the signal log itself is pruned after 7 days).
    """
    from django.db.models import Count, Max, Min, Q, Sum

    from positions.models import Position, PositionStatus

    stats, _ = TradingStatistics.objects.select_for_update().get_or_create(pk=1)
    closed = Position.objects.filter(status=PositionStatus.CLOSED)
    figures = closed.aggregate(
        trades=Count("pk"), wins=Count("pk", filter=Q(realized_pnl__gt=0)),
        losses=Count("pk", filter=Q(realized_pnl__lt=0)), stops=Count("pk", filter=Q(exit_reason="PM_STOP_HIT")),
        profit=Sum("realized_pnl", filter=Q(realized_pnl__gt=0)), loss=Sum("realized_pnl", filter=Q(realized_pnl__lt=0)),
        net=Sum("realized_pnl"), best=Max("realized_pnl"), worst=Min("realized_pnl"),
    )
    opened = Position.objects.exclude(opened_at=None)
    zero = Decimal("0")
    stats.trades_closed = stats.exits = figures["trades"]
    stats.winning_trades, stats.losing_trades, stats.stop_exits = figures["wins"], figures["losses"], figures["stops"]
    stats.gross_profit, stats.gross_loss = figures["profit"] or zero, figures["loss"] or zero
    stats.net_realized_pnl = figures["net"] or zero
    stats.largest_win, stats.largest_loss = max(figures["best"] or zero, zero), min(figures["worst"] or zero, zero)
    stats.base_entries = opened.filter(layer=1).count()
    stats.pyramid_entries = opened.filter(layer__gt=1).count()
    stats.max_drawdown = _max_drawdown()
    stats.aggregated_at = timezone.now()
    stats.save()
    return stats


def _max_drawdown() -> Decimal:
    """Largest fall of closed equity below its running high, walking the ledger in order."""
    high = drawdown = Decimal("0")
    for kind, after, amount in CapitalTransaction.objects.order_by("id").values_list("kind", "equity_after", "amount"):
        if kind in (TransactionKind.DEPOSIT, TransactionKind.WITHDRAW):
            high += amount  # capital flows move the high-water mark, they are not drawdowns
        high = max(high, after)
        drawdown = max(drawdown, high - after)
    return drawdown
