"""Broker reconciliation runs and the discrepancies they find (DESIGN §10).  An open discrepancy halts
new entries of its instrument until ops acknowledge or resolve it."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.dbutils import choices_constraint


class RunTrigger(models.TextChoices):
    STARTUP = "startup", "Startup / leadership"
    PERIODIC = "periodic", "Periodic"
    MANUAL = "manual", "Manual (API or admin)"
    COMMAND = "command", "Management command"


class ReconciliationOutcome(models.TextChoices):
    MATCHED = "matched", "All matched"
    DISCREPANCIES = "discrepancies", "Discrepancies found"
    BROKER_UNAVAILABLE = "broker_unavailable", "Broker unavailable"


class ReconciliationRun(models.Model):
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    instance_id = models.CharField(max_length=120)
    requested_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=ReconciliationOutcome.choices)
    report = models.JSONField(default=dict, blank=True)
    broker_snapshot = models.JSONField(default=list, blank=True, help_text="Raw broker positions, for audit")

    class Meta:
        ordering = ["-started_at"]
        permissions = [("run_reconciliation", "Can run a broker reconciliation now")]
        constraints = [
            choices_constraint("trigger", RunTrigger, "reconciliation_trigger_valid"),
            choices_constraint("outcome", ReconciliationOutcome, "reconciliation_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"Reconciliation #{self.pk} ({self.outcome})"


class DiscrepancyKind(models.TextChoices):
    ORPHANED = "orphaned", "Orphaned (we expect it, broker has none)"
    MISSING = "missing", "Missing (broker has it, we don't)"
    MISMATCH = "mismatch", "Quantity mismatch"
    UNRESOLVED_ORDER = "unresolved_order", "Order outcome unresolved"
    LOT_SIZE = "lot_size", "Broker lot size differs from ours"
    ROLLOVER_INCOMPLETE = "rollover_incomplete", "Rollover stuck: old contract closed, new one not held"


# Found by comparing quantities in a reconciliation run (the others come from the order lifecycle).
QUANTITY_KINDS = (DiscrepancyKind.ORPHANED, DiscrepancyKind.MISSING, DiscrepancyKind.MISMATCH)


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Discrepancy(models.Model):
    run = models.ForeignKey(ReconciliationRun, null=True, blank=True, on_delete=models.PROTECT,
                            related_name="discrepancies", help_text="The run that found it (quantity kinds)")
    last_seen_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=DiscrepancyKind.choices)
    order_intent = models.ForeignKey("positions.OrderIntent", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="discrepancies", help_text="Unresolved order: the intent")
    symbol = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    instrument = models.ForeignKey(
        "portfolio.Instrument", null=True, blank=True, on_delete=models.PROTECT, related_name="discrepancies"
    )
    expected_quantity = models.IntegerField()
    broker_quantity = models.IntegerField()
    position_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=14, choices=DiscrepancyStatus.choices, default=DiscrepancyStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "discrepancies"
        ordering = ["-created_at"]
        permissions = [("settle_unresolved_order", "Can settle an unresolved order (link it or declare it not placed)"),
                       ("close_positions_at_price", "Can close our positions at a price (books P&L, no order)"),
                       ("adopt_broker_quantity", "Can adopt the broker quantity (resizes our positions, no order)"),
                       ("import_broker_position", "Can import a broker position as ours (no order)")]
        indexes = [models.Index(fields=["instrument", "status"], name="discrepancy_instrument_status")]
        constraints = [
            choices_constraint("kind", DiscrepancyKind, "discrepancy_kind_valid"),
            choices_constraint("status", DiscrepancyStatus, "discrepancy_status_valid"),
            models.UniqueConstraint(
                fields=["symbol", "exchange"],
                condition=Q(status="open", kind__in=["orphaned", "missing", "mismatch"]),
                name="discrepancy_one_open_per_symbol",
            ),
            models.UniqueConstraint(
                fields=["symbol", "exchange"], condition=Q(status__in=["open", "acknowledged"], kind="lot_size"),
                name="discrepancy_one_lot_size_per_symbol",
            ),
            models.UniqueConstraint(
                fields=["order_intent"], condition=Q(status__in=["open", "acknowledged"]),
                name="discrepancy_one_per_unresolved_order",
            ),
            models.CheckConstraint(
                condition=~Q(kind="unresolved_order") | Q(order_intent__isnull=False),
                name="discrepancy_unresolved_order_has_intent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.exchange}:{self.symbol} ({self.status})"
