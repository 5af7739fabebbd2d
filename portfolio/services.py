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
    from recovery.services.audit import audit_record

    audit_record(actor=actor, action=action, target_type="portfolio", target_id="1", note=note)
