"""Positions (one per instrument layer and campaign) and the per-instrument pyramiding state."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from core.dbutils import choices_constraint
from portfolio.models import MONEY, PRICE


class PositionStatus(models.TextChoices):
    OPENING = "opening", "Opening (entry orders in flight)"
    OPEN = "open", "Open"
    CLOSING = "closing", "Closing (exit orders in flight)"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed (entry never filled)"


# Statuses in which a position holds (or is acquiring) its layer: at most one per instrument + layer.
LIVE_STATUSES = (PositionStatus.OPENING, PositionStatus.OPEN, PositionStatus.CLOSING)


class RolloverStatus(models.TextChoices):
    NONE = "none", "None"
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    FAILED = "failed", "Failed"


class Position(models.Model):
    """One layer of one campaign: Long_1 is the base, Long_2..Long_6 are pyramids 1..5."""

    instrument = models.ForeignKey("portfolio.Instrument", on_delete=models.PROTECT, related_name="positions")
    layer = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=40, help_text="e.g. GOLD_MINI_Long_2; unique only while live")
    is_base_position = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=PositionStatus.choices, default=PositionStatus.OPENING)

    lots = models.PositiveIntegerField()
    quantity = models.PositiveIntegerField(help_text="Broker quantity on each leg")
    signal_price = models.DecimalField(help_text="Price of the signal that opened it", **PRICE)
    entry_price = models.DecimalField(null=True, blank=True, help_text="Fill (synthetic for Bank Nifty)", **PRICE)
    initial_stop = models.DecimalField(**PRICE)
    current_stop = models.DecimalField(**PRICE)
    highest_close = models.DecimalField(**PRICE)
    entry_atr = models.DecimalField(**PRICE)
    entry_er = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    limiter = models.CharField(max_length=20, blank=True, help_text="Constraint that set the size")
    risk_at_entry = models.DecimalField(default=Decimal("0"), **MONEY)
    vol_at_entry = models.DecimalField(default=Decimal("0"), **MONEY)
    unrealized_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    realized_pnl = models.DecimalField(null=True, blank=True, **MONEY)

    entry_signal = models.ForeignKey(
        "signals.SignalLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="opened_positions"
    )
    exit_signal = models.ForeignKey(
        "signals.SignalLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="closed_positions"
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(null=True, blank=True, **PRICE)
    exit_reason = models.CharField(max_length=100, blank=True)
    # An exit (or an entry's unwinding) the broker did not take — rejected, unanswered, market
    # closed — is tried again, never dropped: when, how often so far, and why the last try failed.
    retry_at = models.DateTimeField(null=True, blank=True, help_text="Next attempt of an order that failed")
    retry_count = models.PositiveSmallIntegerField(default=0, help_text="Failed attempts since the last progress")
    last_error = models.TextField(blank=True, help_text="Why the last attempt failed")

    expiry = models.DateField()
    futures_symbol = models.CharField(max_length=40, blank=True)
    strike = models.PositiveIntegerField(null=True, blank=True)
    pe_symbol = models.CharField(max_length=40, blank=True)
    ce_symbol = models.CharField(max_length=40, blank=True)
    pe_entry_price = models.DecimalField(null=True, blank=True, **PRICE)
    ce_entry_price = models.DecimalField(null=True, blank=True, **PRICE)

    rollover_status = models.CharField(max_length=12, choices=RolloverStatus.choices, default=RolloverStatus.NONE)
    original_expiry = models.DateField(null=True, blank=True)
    original_strike = models.PositiveIntegerField(null=True, blank=True)
    original_entry_price = models.DecimalField(null=True, blank=True, **PRICE)
    rollover_count = models.PositiveSmallIntegerField(default=0)
    rollover_pnl = models.DecimalField(default=Decimal("0"), **MONEY)
    rollover_at = models.DateTimeField(null=True, blank=True)

    legacy_key = models.CharField(
        max_length=80, blank=True, default="",
        help_text="Imported from the legacy system: its position id @ entry time (empty for our own)",
    )

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("roll_position", "Can roll a position to its next contract now")]
        indexes = [
            models.Index(fields=["instrument", "status"], name="position_instrument_status"),
            models.Index(fields=["status"], name="position_status"),
            models.Index(fields=["created_at"], name="position_created"),
            models.Index(fields=["instrument", "opened_at"], name="position_instrument_entry"),
            models.Index(fields=["rollover_status", "expiry"], name="position_rollover_expiry"),
            models.Index(fields=["retry_at"], name="position_retry_due", condition=Q(retry_at__isnull=False)),
        ]
        constraints = [
            choices_constraint("status", PositionStatus, "position_status_valid"),
            choices_constraint("rollover_status", RolloverStatus, "position_rollover_status_valid"),
            models.UniqueConstraint(
                fields=["instrument", "layer"],
                condition=Q(status__in=[s.value for s in LIVE_STATUSES]),
                name="position_one_live_per_layer",
            ),
            models.CheckConstraint(condition=Q(layer__gte=1, layer__lte=6), name="position_layer_range"),
            # One of our positions per legacy campaign layer: a second import cannot duplicate it.
            models.UniqueConstraint(fields=["legacy_key"], condition=~Q(legacy_key=""),
                                    name="position_legacy_key_unique"),
            models.CheckConstraint(
                condition=Q(layer=1, is_base_position=True) | (~Q(layer=1) & Q(is_base_position=False)),
                name="position_base_is_layer_one",
            ),
            models.CheckConstraint(condition=Q(lots__gte=1, quantity__gte=1), name="position_size_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=["open", "closing", "closed"]) | Q(entry_price__isnull=False),
                name="position_filled_has_entry_price",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(exit_price__isnull=False, closed_at__isnull=False),
                name="position_closed_has_exit",
            ),
            models.CheckConstraint(
                condition=~Q(futures_symbol="") | (~Q(pe_symbol="") & ~Q(ce_symbol="") & Q(strike__isnull=False)),
                name="position_has_symbols",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} #{self.pk} ({self.status})"

    @property
    def exit_pending(self) -> bool:
        """Closing, with the last exit attempt refused or unanswered: a retry is scheduled."""
        return self.status == PositionStatus.CLOSING and self.retry_at is not None

    @property
    def symbols(self) -> list[str]:
        if self.futures_symbol:
            return [self.futures_symbol]
        return [self.pe_symbol, self.ce_symbol]


class PyramidingState(models.Model):
    """Per instrument: the current base position and the price of the latest entry."""

    instrument = models.OneToOneField(
        "portfolio.Instrument", primary_key=True, on_delete=models.CASCADE, related_name="pyramiding"
    )
    last_pyramid_price = models.DecimalField(
        null=True, blank=True, help_text="Signal price of the latest executed base entry or pyramid", **PRICE
    )
    base_position = models.ForeignKey(
        Position, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "pyramiding states"

    def __str__(self) -> str:
        return f"Pyramiding {self.instrument_id}"
