"""Instruments, the single portfolio state, the equity ledger, statistics and holidays."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from core.dbutils import choices_constraint

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


class TransactionKind(models.TextChoices):
    DEPOSIT = "DEPOSIT", "Deposit"
    WITHDRAW = "WITHDRAW", "Withdrawal"
    TRADING_PNL = "TRADING_PNL", "Trading P&L"
    ROLLOVER_PNL = "ROLLOVER_PNL", "Rollover P&L"


class CapitalTransaction(models.Model):
    """The signed equity ledger.  Rows are only ever appended, by portfolio services."""

    kind = models.CharField(max_length=16, choices=TransactionKind.choices)
    amount = models.DecimalField(**MONEY)
    equity_before = models.DecimalField(**MONEY)
    equity_after = models.DecimalField(**MONEY)
    # The equity high after this entry, so the equity curve reads both lines from one row (no walk of
    # the whole ledger per page); written by ledger_post, backfilled by migration 0004.
    equity_high_after = models.DecimalField(null=True, blank=True, **MONEY)
    position = models.ForeignKey(
        "positions.Position", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    rollover_number = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
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


class Holiday(models.Model):
    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    date = models.DateField()
    description = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date", "exchange"]
        constraints = [
            choices_constraint("exchange", Exchange, "holiday_exchange_valid"),
            models.UniqueConstraint(fields=["exchange", "date"], name="holiday_unique_per_exchange"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.date:%Y-%m-%d} {self.description}"
