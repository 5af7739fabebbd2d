"""Writers for the portfolio app: initialisation, the equity ledger, capital flows, the pause switch,
the stored exposure totals, statistics and instrument marks.

Every function is atomic and keyword-only.  The ledger and ``PortfolioState.closed_equity`` change
together under a row lock on the single state row, so the state always equals the ledger's sum.
Every change of the state row goes through ``_state_save``, which bumps its ``version``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, F, Max, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from core.services import audit_record
from portfolio.equity import apply_ledger_entry
from portfolio.models import CapitalTransaction, Instrument, PortfolioState, TradingStatistics, TransactionKind

CENT = Decimal("0.01")
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
    equity_high_after: Decimal | None = None,
    idempotency_key: str | None = None,
) -> CapitalTransaction:
    """Append one ledger row and move the state's equity with it.

    The caller holds the state row lock (``locked_state()``) inside its own transaction, so the
    ledger row, the equity and any position change commit together or not at all.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post must run inside a transaction holding the portfolio lock")
    before = state.closed_equity
    closed, high = apply_ledger_entry(
        closed_equity=before, equity_high=state.equity_high, kind=kind, amount=amount,
        equity_high_after=equity_high_after,
    )
    entry = CapitalTransaction.objects.create(
        kind=kind,
        amount=amount,
        equity_before=before,
        equity_after=closed,
        equity_high_after=high,
        position=position,
        rollover_number=rollover_number,
        note=note,
        created_by=actor,
        idempotency_key=idempotency_key or None,
    )
    state.closed_equity, state.equity_high = closed, high
    _state_save(state, "closed_equity", "equity_high")
    return entry


def opening_balance() -> CapitalTransaction | None:
    return CapitalTransaction.objects.filter(kind=TransactionKind.OPENING_BALANCE).first()


@transaction.atomic
def portfolio_open_balance(
    *, initial_capital: Decimal, closed_equity: Decimal, equity_high: Decimal, actor: str, note: str = ""
) -> CapitalTransaction | None:
    """Carry the books of another system over (the legacy import): afterwards closed equity and the
    equity high are exactly the given values.  Once only: returns None (and changes nothing) when an
    opening balance exists already.

    Creates the portfolio state when there is none (a fresh install: no ``init_portfolio`` needed);
    otherwise the entry's amount is the difference to the current closed equity, so a portfolio
    that ``init_portfolio`` opened with a deposit ends at the same values.  The initial capital is
    the other system's (it is informational: equity comes from the ledger).
    """
    for field, value in (("initial_capital", initial_capital), ("closed_equity", closed_equity),
                         ("equity_high", equity_high)):
        if not isinstance(value, Decimal) or not value.is_finite() or value != value.quantize(CENT):
            raise ValidationError({field: f"must be a finite amount with at most two decimals, got {value!r}"})
    if initial_capital <= 0 or initial_capital > MAX_CAPITAL:
        raise ValidationError({"initial_capital": f"must be above 0 and at most {MAX_CAPITAL}"})
    if equity_high < closed_equity:
        raise ValidationError({"equity_high": f"{equity_high} is below the closed equity {closed_equity}"})
    state = PortfolioState.objects.select_for_update().filter(pk=PortfolioState.SINGLETON_ID).first()
    if state is None:
        state = PortfolioState.objects.create(
            initial_capital=initial_capital, closed_equity=Decimal("0"), equity_high=Decimal("0")
        )
        TradingStatistics.objects.get_or_create(pk=1)
    if opening_balance() is not None:
        return None
    if state.initial_capital != initial_capital:
        state.initial_capital = initial_capital
        _state_save(state, "initial_capital")
    return ledger_post(state=state, kind=TransactionKind.OPENING_BALANCE, amount=closed_equity - state.closed_equity,
                       actor=actor, note=note, equity_high_after=equity_high)


def _state_save(state: PortfolioState, *fields: str) -> None:
    """The one place the portfolio row is written (the caller holds its lock)."""
    state.version += 1
    state.save(update_fields=[*fields, "version", "updated_at"])


class IdempotencyConflict(Exception):
    """An idempotency key already booked a different capital flow (another kind or amount)."""


def capital_deposit(*, amount: object, actor: str, note: str = "", idempotency_key: str | None = None
                    ) -> CapitalTransaction:
    return capital_flow_record(kind=TransactionKind.DEPOSIT, amount=amount, actor=actor, note=note,
                               idempotency_key=idempotency_key)[0]


def capital_withdraw(*, amount: object, actor: str, note: str = "", idempotency_key: str | None = None
                     ) -> CapitalTransaction:
    return capital_flow_record(kind=TransactionKind.WITHDRAW, amount=amount, actor=actor, note=note,
                               idempotency_key=idempotency_key)[0]


@transaction.atomic
def capital_flow_record(*, kind: str, amount: object, actor: str, note: str = "",
                        idempotency_key: str | None = None) -> tuple[CapitalTransaction, bool]:
    """Book a deposit or a withdrawal (it resizes every later order) and audit it.  Returns (entry,
    booked); ``booked`` is False when ``idempotency_key`` booked this same flow before: a double
    submit books once.  Submits of one key are serialised by the portfolio row lock, so the second
    sees the first's row; the unique constraint on the key backs that up."""
    if kind not in (TransactionKind.DEPOSIT, TransactionKind.WITHDRAW):
        raise ValueError(f"not a capital flow: {kind!r}")
    value = parse_amount(amount)
    state = locked_state()
    if idempotency_key:
        earlier = CapitalTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            if earlier.kind != kind or abs(earlier.amount) != value:
                raise IdempotencyConflict(f"this idempotency key booked a {earlier.kind} of {abs(earlier.amount)}")
            return earlier, False
    if kind == TransactionKind.WITHDRAW and value > state.closed_equity:
        raise ValidationError({"amount": f"exceeds closed equity {state.closed_equity}"})
    before = {"closed_equity": state.closed_equity, "equity_high": state.equity_high}
    entry = ledger_post(state=state, kind=kind, amount=value if kind == TransactionKind.DEPOSIT else -value,
                        actor=actor, note=note, idempotency_key=idempotency_key)
    audit_record(actor=actor, action=f"capital_{kind.lower()}", target_type="ledger", target_id=entry.pk, note=note,
                 before=before, after={"closed_equity": state.closed_equity, "equity_high": state.equity_high},
                 details={"amount": entry.amount, "idempotency_key": idempotency_key})
    return entry, True


@transaction.atomic
def trading_pause(*, reason: str, actor: str) -> PortfolioState:
    """Stop new entries and pyramids (exits, stops and rollovers keep running)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "is required to pause trading"})
    if len(reason) > 200:
        raise ValidationError({"reason": "must be at most 200 characters"})
    state = locked_state()
    before = _pause_fields(state)
    state.paused, state.paused_reason = True, reason
    state.paused_at, state.paused_by = timezone.now(), actor
    _state_save(state, "paused", "paused_reason", "paused_at", "paused_by")
    _audit(actor=actor, action="trading_paused", note=reason, before=before, after=_pause_fields(state))
    return state


@transaction.atomic
def trading_resume(*, actor: str) -> PortfolioState:
    """Allow new entries again.  Audited even when trading was not paused: the request was made."""
    state = locked_state()
    before = _pause_fields(state)
    state.paused, state.paused_reason, state.paused_at, state.paused_by = False, "", None, ""
    _state_save(state, "paused", "paused_reason", "paused_at", "paused_by")
    _audit(actor=actor, action="trading_resumed", before=before, after=_pause_fields(state),
           note="" if before["paused"] else "trading was not paused")
    return state


def _pause_fields(state: PortfolioState) -> dict:
    return {"paused": state.paused, "paused_reason": state.paused_reason, "paused_by": state.paused_by}


def _audit(*, actor: str, action: str, note: str = "", before: dict, after: dict) -> None:
    audit_record(actor=actor, action=action, target_type="portfolio", target_id="1", note=note, before=before,
                 after=after)


def statistics_bump(**increments) -> None:
    """Add to the running counters (one row, updated in the caller's transaction)."""
    changes = {name: F(name) + value for name, value in increments.items()}
    if not TradingStatistics.objects.filter(pk=1).update(**changes):
        TradingStatistics.objects.get_or_create(pk=1)
        TradingStatistics.objects.filter(pk=1).update(**changes)


def statistics_record_trade(*, pnl: Decimal, stop_exit: bool) -> None:
    win = pnl > 0
    changes = {
        "exits": F("exits") + 1,
        "stop_exits": F("stop_exits") + (1 if stop_exit else 0),
        "trades_closed": F("trades_closed") + 1,
        "winning_trades": F("winning_trades") + (1 if win else 0),
        "losing_trades": F("losing_trades") + (1 if pnl < 0 else 0),
        "gross_profit": F("gross_profit") + (pnl if win else 0),
        "gross_loss": F("gross_loss") + (pnl if pnl < 0 else 0),
        "net_realized_pnl": F("net_realized_pnl") + pnl,
        "largest_win": Greatest(F("largest_win"), pnl),
        "largest_loss": Least(F("largest_loss"), pnl),
    }
    if not TradingStatistics.objects.filter(pk=1).update(**changes):  # the row exists from init_portfolio on
        TradingStatistics.objects.get_or_create(pk=1)
        TradingStatistics.objects.filter(pk=1).update(**changes)


def portfolio_totals_refresh(*, state: PortfolioState, exposure) -> None:
    """Store the exposure derived from positions on the (locked) state row, for display and cheap reads."""
    state.total_risk_amount = exposure.risk.quantize(CENT)
    state.total_vol_amount = exposure.vol.quantize(CENT)
    state.margin_used = exposure.margin_used.quantize(CENT)
    state.unrealized_pnl = exposure.unrealized_pnl.quantize(CENT)
    _state_save(state, "total_risk_amount", "total_vol_amount", "margin_used", "unrealized_pnl")


@transaction.atomic
def statistics_replace(*, trade_figures: dict) -> TradingStatistics:
    """Re-derive the trade counters from the sources of truth: ``trade_figures`` from closed positions
    (``positions.selectors.closed_trade_figures``), the drawdown from the ledger.  Signal counters are
    kept as signals finish (the signal log itself is pruned after 7 days)."""
    TradingStatistics.objects.get_or_create(pk=1)
    stats = TradingStatistics.objects.select_for_update().get(pk=1)
    for name, value in trade_figures.items():
        setattr(stats, name, value)
    stats.max_drawdown = _max_drawdown()
    stats.aggregated_at = timezone.now()
    stats.save()
    return stats


def instrument_mark(*, code: str, price: Decimal, at) -> bool:
    """Record the instrument's latest bar close; False (nothing written) for a bar older than the
    mark already held, so a late bar never moves anything on a stale price."""
    return bool(Instrument.objects.filter(Q(mark_at__isnull=True) | Q(mark_at__lte=at), code=code)
                .update(mark_price=price, mark_at=at))


def _max_drawdown() -> Decimal:
    """Largest fall of closed equity below its high: each ledger row records both (capital flows move
    the high, so they are not drawdowns; an opening balance carries the other system's high over)."""
    worst = CapitalTransaction.objects.aggregate(
        worst=Max(F("equity_high_after") - F("equity_after"), output_field=DecimalField()))["worst"]
    return max(worst or Decimal("0"), Decimal("0"))
