"""Instruments, the single portfolio state, the equity ledger, statistics, and the market calendar
(exchange sessions, holidays, special sessions)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from core.dbutils import choices_constraint
from portfolio.params import InstrumentParams, PortfolioParams, instrument_problems, portfolio_problems
from portfolio.sessions import rules_problems

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


class HolidayClosure(models.TextChoices):
    FULL = "full", "Whole day closed"
    MORNING = "morning", "Morning session closed (evening open)"
    EVENING = "evening", "Evening session closed (morning open)"


class Holiday(models.Model):
    """An exchange trading holiday.  MCX also closes only one of its two sessions on some days."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    date = models.DateField()
    description = models.CharField(max_length=120, blank=True)
    closed = models.CharField(
        max_length=8, choices=HolidayClosure.choices, default=HolidayClosure.FULL,
        help_text="Which part of the day is closed (partial closures need an evening session on the exchange)",
    )

    class Meta:
        ordering = ["date", "exchange"]
        permissions = [("import_holidays", "Can import holiday lists (CSV)")]
        constraints = [
            choices_constraint("exchange", Exchange, "holiday_exchange_valid"),
            choices_constraint("closed", HolidayClosure, "holiday_closed_valid"),
            models.UniqueConstraint(fields=["exchange", "date"], name="holiday_unique_per_exchange"),
        ]

    def __str__(self) -> str:
        part = "" if self.closed == HolidayClosure.FULL else f" ({self.get_closed_display()})"
        return f"{self.exchange} {self.date:%Y-%m-%d} {self.description}{part}"


class ExchangeSession(models.Model):
    """An exchange's regular weekday session, IST (DESIGN §15.3; rules in portfolio/sessions.py)."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices, primary_key=True)
    opens = models.TimeField(help_text="IST")
    closes = models.TimeField(help_text="IST; the close itself is outside the session")
    closes_us_dst = models.TimeField(
        null=True, blank=True,
        help_text="IST close while the US observes daylight saving time (America/New_York); empty: as above",
    )
    evening_opens = models.TimeField(
        null=True, blank=True,
        help_text="IST start of the evening session (MCX 17:00): a partial holiday closes the part before or "
                  "after it; empty: one session",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange"]
        constraints = [
            choices_constraint("exchange", Exchange, "session_exchange_valid"),
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="session_closes_after_opening"),
            models.CheckConstraint(condition=Q(closes_us_dst__isnull=True) | Q(closes_us_dst__gt=F("opens")),
                                   name="session_dst_close_after_opening"),
            models.CheckConstraint(
                condition=Q(evening_opens__isnull=True) | Q(evening_opens__gt=F("opens"), evening_opens__lt=F("closes")),
                name="session_evening_inside_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None:
            problems = rules_problems(opens=self.opens, closes=self.closes, closes_us_dst=self.closes_us_dst,
                                      evening_opens=self.evening_opens)
            if problems:
                raise ValidationError(problems)


class SpecialSession(models.Model):
    """A trading session on a day the exchange is normally closed, or with other hours (a weekend Budget
    session, Muhurat trading).  It replaces the day's normal hours; times left empty are not yet
    published, and the day then follows its normal rules."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    date = models.DateField()
    opens = models.TimeField(null=True, blank=True, help_text="IST; empty while not yet published")
    closes = models.TimeField(null=True, blank=True, help_text="IST; empty while not yet published")
    description = models.CharField(max_length=160, blank=True)

    class Meta:
        ordering = ["date", "exchange"]
        constraints = [
            choices_constraint("exchange", Exchange, "special_session_exchange_valid"),
            models.UniqueConstraint(fields=["exchange", "date"], name="special_session_unique_per_exchange"),
            models.CheckConstraint(
                condition=Q(opens__isnull=True, closes__isnull=True)
                | Q(opens__isnull=False, closes__isnull=False, closes__gt=F("opens")),
                name="special_session_times_valid",
            ),
        ]

    def __str__(self) -> str:
        hours = f"{self.opens:%H:%M}-{self.closes:%H:%M}" if self.opens and self.closes else "times pending"
        return f"{self.exchange} {self.date:%Y-%m-%d} {hours} {self.description}"

    def clean(self) -> None:
        if (self.opens is None) != (self.closes is None):
            raise ValidationError({"closes": "give both times, or neither while they are not yet published"})
        if self.opens is not None and self.closes <= self.opens:
            raise ValidationError({"closes": "must be after the opening time"})
