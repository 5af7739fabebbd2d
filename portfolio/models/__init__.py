"""Instruments, the single portfolio state, the equity ledger and statistics; the market calendar
(exchange sessions, holidays, special sessions) is in ``portfolio.models.calendar``."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from core.dbutils import choices_constraint
from portfolio.params import InstrumentParams, PortfolioParams, instrument_problems, portfolio_problems

MONEY = {"max_digits": 18, "decimal_places": 2}
PRICE = {"max_digits": 14, "decimal_places": 4}
PERCENT = {"max_digits": 7, "decimal_places": 3}


class Exchange(models.TextChoices):
    NFO = "NFO", "NSE F&O"
    MCX = "MCX", "MCX"


class ContractKind(models.TextChoices):
    SYNTHETIC_OPTIONS = "synthetic_options", "Synthetic future (SELL PE + BUY CE)"
    FUTURES = "futures", "Futures"


class ExpiryRule(models.TextChoices):
    LAST_TUESDAY = "last_tuesday", "Last Tuesday of the month"
    FIFTH = "fifth", "5th of the month"
    LAST_DAY = "last_day", "Last calendar day of the month"


class ExecutionStyle(models.TextChoices):
    MARKET = "MARKET", "Market order"
    LIMIT_CHASE = "LIMIT_CHASE", "Limit at the touch, chased, then market"


class Instrument(models.Model):
    """A tradable instrument and every rule parameter of DESIGN §7 and §8 (editable in admin)."""

    code = models.CharField(max_length=32, primary_key=True)
    name = models.CharField(max_length=80)
    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    contract_kind = models.CharField(max_length=24, choices=ContractKind.choices)
    symbol_root = models.CharField(max_length=20, help_text="BANKNIFTY, GOLDM, SILVERM, COPPER")
    lot_size = models.PositiveIntegerField(help_text="Physical lot size in lot_unit")
    lot_unit = models.CharField(max_length=12, default="units")
    point_value = models.DecimalField(help_text="Rupees per point per lot", **PRICE)
    margin_per_lot = models.DecimalField(**MONEY)
    order_quantity_per_lot = models.PositiveIntegerField(
        help_text="Broker quantity per lot on each leg (Bank Nifty options: units; MCX: lots)"
    )
    risk_percent = models.DecimalField(default=Decimal("1.0"), **PERCENT)
    vol_percent = models.DecimalField(default=Decimal("0.2"), **PERCENT)
    use_vol_constraint = models.BooleanField(default=False)
    initial_stop_atr_multiple = models.DecimalField(**PERCENT)
    trailing_stop_atr_multiple = models.DecimalField(**PERCENT)
    pyramid_spacing_atr = models.DecimalField(default=Decimal("0.5"), **PERCENT)
    max_pyramids = models.PositiveSmallIntegerField()
    strike_step = models.PositiveIntegerField(null=True, blank=True, help_text="Options only")
    tick_size = models.DecimalField(max_digits=10, decimal_places=4)
    expiry_rule = models.CharField(max_length=16, choices=ExpiryRule.choices)
    contract_months = models.CharField(
        max_length=40, blank=True, help_text="Comma-separated month numbers; empty means every month"
    )
    entry_roll_trading_days = models.PositiveSmallIntegerField(
        help_text="New entries use the next contract when this many trading days or fewer remain"
    )
    rollover_days = models.PositiveSmallIntegerField(
        help_text="Open positions roll when fewer than this many calendar days remain"
    )
    execution_style = models.CharField(max_length=12, choices=ExecutionStyle.choices, default=ExecutionStyle.MARKET)
    chase_seconds = models.PositiveSmallIntegerField(default=5, help_text="LIMIT_CHASE: seconds between price moves")
    chase_attempts = models.PositiveSmallIntegerField(default=3, help_text="LIMIT_CHASE: moves before going market")
    is_active = models.BooleanField(default=True)
    mark_price = models.DecimalField(null=True, blank=True, **PRICE)
    mark_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            choices_constraint("exchange", Exchange, "instrument_exchange_valid"),
            choices_constraint("contract_kind", ContractKind, "instrument_contract_kind_valid"),
            choices_constraint("expiry_rule", ExpiryRule, "instrument_expiry_rule_valid"),
            choices_constraint("execution_style", ExecutionStyle, "instrument_execution_style_valid"),
            models.CheckConstraint(condition=Q(chase_seconds__gte=1), name="instrument_chase_seconds_positive"),
            models.CheckConstraint(
                condition=Q(point_value__gt=0, margin_per_lot__gt=0, tick_size__gt=0, lot_size__gt=0),
                name="instrument_positive_parameters",
            ),
            models.CheckConstraint(
                condition=Q(risk_percent__gt=0, vol_percent__gt=0, initial_stop_atr_multiple__gt=0,
                            trailing_stop_atr_multiple__gt=0, pyramid_spacing_atr__gte=0),
                name="instrument_positive_multiples",
            ),
            models.CheckConstraint(
                condition=Q(max_pyramids__lte=5) & Q(order_quantity_per_lot__gt=0),
                name="instrument_pyramids_and_quantity",
            ),
            models.CheckConstraint(
                condition=~Q(contract_kind="synthetic_options") | Q(strike_step__gt=0),
                name="instrument_options_need_strike_step",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def contract_month_numbers(self) -> tuple[int, ...]:
        if not self.contract_months.strip():
            return tuple(range(1, 13))
        return tuple(int(part) for part in self.contract_months.split(",") if part.strip())

    def clean(self) -> None:
        """The rules of ``InstrumentParams`` (the values every decision is built from), by field, plus
        the row's own (tick, lot size, chase timing), so a bad edit never reaches a decision."""
        values = {name: getattr(self, name) for name in InstrumentParams.__slots__ if name != "contract_months"}
        problems = {}
        try:
            values["contract_months"] = self.contract_month_numbers
        except ValueError:
            problems["contract_months"] = f"comma-separated month numbers 1..12, got {self.contract_months!r}"
        problems.update(instrument_problems(values))
        for field in ("tick_size", "lot_size"):
            if getattr(self, field) is not None and not getattr(self, field) > 0:
                problems[field] = "must be positive"
        if self.chase_seconds is not None and self.chase_seconds < 1:
            problems["chase_seconds"] = "must be at least 1"
        if problems:
            raise ValidationError(problems)


class PortfolioState(models.Model):
    """The one portfolio row.  closed_equity always equals the sum of the ledger."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    initial_capital = models.DecimalField(**MONEY)
    closed_equity = models.DecimalField(**MONEY)
    equity_high = models.DecimalField(**MONEY)
    total_risk_amount = models.DecimalField(default=Decimal("0"), **MONEY)
    total_vol_amount = models.DecimalField(default=Decimal("0"), **MONEY)
    margin_used = models.DecimalField(default=Decimal("0"), **MONEY)
    unrealized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    max_risk_percent = models.DecimalField(default=Decimal("15"), **PERCENT)
    max_vol_percent = models.DecimalField(default=Decimal("5"), **PERCENT)
    pyramid_max_risk_percent = models.DecimalField(default=Decimal("12"), **PERCENT)
    pyramid_max_vol_percent = models.DecimalField(default=Decimal("4"), **PERCENT)
    margin_limit_percent = models.DecimalField(
        default=Decimal("60"), help_text="Share of equity_high usable as margin", **PERCENT
    )
    unrealized_weight = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.5"), help_text="Blended equity weight"
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=200, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.CharField(max_length=150, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("pause_trading", "Can pause trading (blocks new entries and pyramids)"),
                       ("resume_trading", "Can resume trading (allows new entries and pyramids)")]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="portfolio_state_single_row"),
            models.CheckConstraint(condition=Q(initial_capital__gt=0), name="portfolio_initial_capital_positive"),
            models.CheckConstraint(condition=Q(equity_high__gte=F("closed_equity")), name="portfolio_high_at_least_closed"),
            models.CheckConstraint(
                condition=Q(paused=False) | ~Q(paused_reason=""), name="portfolio_pause_needs_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Portfolio (closed equity {self.closed_equity})"

    LIMIT_FIELDS = PortfolioParams.__slots__

    def clean(self) -> None:
        """The rules of ``PortfolioParams`` (the limits every gate uses), by field."""
        problems = portfolio_problems({name: getattr(self, name) for name in self.LIMIT_FIELDS})
        if problems:
            raise ValidationError(problems)


class TransactionKind(models.TextChoices):
    DEPOSIT = "DEPOSIT", "Deposit"
    WITHDRAW = "WITHDRAW", "Withdrawal"
    TRADING_PNL = "TRADING_PNL", "Trading P&L"
    ROLLOVER_PNL = "ROLLOVER_PNL", "Rollover P&L"
    OPENING_BALANCE = "OPENING_BALANCE", "Opening balance (books carried over from the legacy system)"


class CapitalTransaction(models.Model):
    """The signed equity ledger.  Rows are only ever appended, by portfolio services."""

    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    amount = models.DecimalField(**MONEY)
    equity_before = models.DecimalField(**MONEY)
    equity_after = models.DecimalField(**MONEY)
    # The equity high after this entry, so the equity curve and the drawdown read both lines from one
    # row (no walk of the whole ledger); written by ledger_post, backfilled by migration 0007.  For an
    # OPENING_BALANCE it is the high-water mark carried over from the legacy system.
    equity_high_after = models.DecimalField(null=True, blank=True, **MONEY)
    position = models.ForeignKey(
        "positions.Position", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    rollover_number = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    # A deposit or withdrawal submitted with a one-time key (the admin form's token, the API's
    # Idempotency-Key): a second submit of the same key finds this row instead of booking again.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        permissions = [("deposit_capital", "Can record a capital deposit"),
                       ("withdraw_capital", "Can record a capital withdrawal")]
        indexes = [
            # Time ranges (admin) and the cockpit's equity curve: "the last entry at or before t".
            models.Index(fields=["created_at", "id"], name="ledger_created_id"),
            models.Index(fields=["kind"]),
        ]
        constraints = [
            choices_constraint("kind", TransactionKind, "ledger_kind_valid"),
            models.CheckConstraint(
                condition=Q(equity_after=F("equity_before") + F("amount")), name="ledger_balance_chain"
            ),
            models.CheckConstraint(condition=~Q(kind="DEPOSIT") | Q(amount__gt=0), name="ledger_deposit_positive"),
            models.CheckConstraint(condition=~Q(kind="WITHDRAW") | Q(amount__lt=0), name="ledger_withdraw_negative"),
            models.CheckConstraint(
                condition=~Q(kind__in=["TRADING_PNL", "ROLLOVER_PNL"]) | Q(position__isnull=False),
                name="ledger_pnl_needs_position",
            ),
            models.CheckConstraint(
                condition=~Q(kind="ROLLOVER_PNL") | Q(rollover_number__isnull=False),
                name="ledger_rollover_needs_number",
            ),
            models.UniqueConstraint(
                fields=["position"], condition=Q(kind="TRADING_PNL"), name="ledger_one_trading_pnl_per_position"
            ),
            models.UniqueConstraint(
                fields=["position", "rollover_number"],
                condition=Q(kind="ROLLOVER_PNL"),
                name="ledger_one_rollover_pnl_per_roll",
            ),
            # The books are carried over once; a second opening balance would restate them twice.
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="OPENING_BALANCE"),
                                    name="ledger_one_opening_balance"),
            models.UniqueConstraint(fields=["idempotency_key"], name="ledger_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(idempotency_key__isnull=True) | Q(kind__in=["DEPOSIT", "WITHDRAW"]),
                                   name="ledger_idempotency_key_only_on_flows"),
            models.CheckConstraint(
                condition=Q(equity_high_after__isnull=False, equity_high_after__gte=F("equity_after"))
                | (~Q(kind="OPENING_BALANCE") & Q(equity_high_after__isnull=True)),
                name="ledger_high_at_least_equity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class TradingStatistics(models.Model):
    """Running counters (single row), kept by services and re-derived by the statistics job."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    signals_received = models.PositiveIntegerField(default=0)
    duplicate_deliveries = models.PositiveIntegerField(default=0)
    signals_executed = models.PositiveIntegerField(default=0)
    signals_blocked = models.PositiveIntegerField(default=0)
    signals_rejected = models.PositiveIntegerField(default=0)
    signals_failed = models.PositiveIntegerField(default=0)
    signals_ignored = models.PositiveIntegerField(default=0)
    base_entries = models.PositiveIntegerField(default=0)
    pyramid_entries = models.PositiveIntegerField(default=0)
    exits = models.PositiveIntegerField(default=0)
    stop_exits = models.PositiveIntegerField(default=0)
    rollovers = models.PositiveIntegerField(default=0)
    rollovers_failed = models.PositiveIntegerField(default=0)
    trades_closed = models.PositiveIntegerField(default=0)
    winning_trades = models.PositiveIntegerField(default=0)
    losing_trades = models.PositiveIntegerField(default=0)
    gross_profit = models.DecimalField(default=Decimal("0"), **MONEY)
    gross_loss = models.DecimalField(default=Decimal("0"), **MONEY)
    net_realized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    largest_win = models.DecimalField(default=Decimal("0"), **MONEY)
    largest_loss = models.DecimalField(default=Decimal("0"), **MONEY)
    max_drawdown = models.DecimalField(default=Decimal("0"), **MONEY)
    aggregated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "trading statistics"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="statistics_single_row")]

    def __str__(self) -> str:
        return "Trading statistics"


from portfolio.models.calendar import ExchangeSession, Holiday, HolidayClosure, SpecialSession  # noqa: E402

__all__ = [
    "CapitalTransaction", "ContractKind", "Exchange", "ExchangeSession", "ExecutionStyle", "ExpiryRule", "Holiday",
    "HolidayClosure", "Instrument", "PortfolioState", "SpecialSession", "TradingStatistics", "TransactionKind",
]
