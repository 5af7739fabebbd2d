"""The signal inbox.  A signal is accepted exactly when its row commits under a unique fingerprint."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.dbutils import choices_constraint


class SignalType(models.TextChoices):
    BASE_ENTRY = "BASE_ENTRY", "Base entry"
    PYRAMID = "PYRAMID", "Pyramid"
    EXIT = "EXIT", "Exit"
    MARKET_DATA = "MARKET_DATA", "Market data bar"
    EOD_MONITOR = "EOD_MONITOR", "End-of-day monitor"


class SignalStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    PROCESSING = "processing", "Processing"
    EXECUTED = "executed", "Executed"
    BLOCKED = "blocked", "Blocked by a rule"
    REJECTED = "rejected", "Rejected (contradicts state)"
    FAILED = "failed", "Failed at the broker"
    IGNORED = "ignored", "Ignored"
    HELD = "held", "Held until the exchange opens"


# ``held`` (an exit waiting for its exchange to open, DESIGN §15.3) is not terminal: the leader's
# release_held_signals job returns it to ``accepted`` at the session open.
TERMINAL_SIGNAL_STATUSES = (
    SignalStatus.EXECUTED,
    SignalStatus.BLOCKED,
    SignalStatus.REJECTED,
    SignalStatus.FAILED,
    SignalStatus.IGNORED,
)


class SignalLog(models.Model):
    # Every index is paid on each insert and on each status change (a non-HOT update), so the inbox
    # keeps only the ones its queries use: the fingerprint is unique by constraint (no LIKE index),
    # and the instrument is reached through the (instrument, time) indexes, not an index of its own.
    fingerprint = models.CharField(max_length=64)
    signal_type = models.CharField(max_length=12, choices=SignalType.choices)
    instrument = models.ForeignKey("portfolio.Instrument", on_delete=models.PROTECT, related_name="signals",
                                   db_index=False)
    position = models.CharField(max_length=8, blank=True, help_text="Long_1..Long_6, ALL, or empty")
    signal_timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processed_by = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=SignalStatus.choices, default=SignalStatus.ACCEPTED)
    reason = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(help_text="As received, without the secret")
    duplicate_count = models.PositiveIntegerField(default=0)
    last_duplicate_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["processed_at"], name="signal_processed_at"),
            models.Index(fields=["instrument", "signal_timestamp"], name="signal_instrument_time"),
            models.Index(
                fields=["instrument", "signal_timestamp", "id"],
                name="signal_claim_queue",
                condition=Q(status__in=["accepted", "processing", "held"]),
            ),
            models.Index(fields=["received_at", "id"], name="signal_received"),
            models.Index(fields=["status", "received_at"], name="signal_status_received"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint"], name="signal_fingerprint_unique"),
            choices_constraint("signal_type", SignalType, "signal_type_valid"),
            choices_constraint("status", SignalStatus, "signal_status_valid"),
            models.CheckConstraint(
                condition=Q(position__in=["", "ALL", "Long_1", "Long_2", "Long_3", "Long_4", "Long_5", "Long_6"]),
                name="signal_position_valid",
            ),
        ]

    def __str__(self) -> str:
        position = f" {self.position}" if self.position else ""
        return f"#{self.pk} {self.instrument_id} {self.signal_type}{position} ({self.status})"
