"""Coordination (instances, leader lease, job runs), recovery runs, reconciliation and ops audit."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from config.dbutils import choices_constraint


class InstanceRole(models.TextChoices):
    WEB = "web", "Web"
    WORKER = "worker", "Celery worker"
    BEAT = "beat", "Celery beat"
    COMMAND = "command", "Management command"


class InstanceStatus(models.TextChoices):
    STARTING = "starting", "Starting"
    ACTIVE = "active", "Active"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    CRASHED = "crashed", "Crashed (no heartbeat)"


class InstanceMetadata(models.Model):
    instance_id = models.CharField(max_length=120, unique=True, help_text="<name>:<pid>:<random>, per start")
    role = models.CharField(max_length=10, choices=InstanceRole.choices)
    hostname = models.CharField(max_length=120)
    pid = models.PositiveIntegerField()
    port = models.PositiveIntegerField(null=True, blank=True)
    version = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=10, choices=InstanceStatus.choices, default=InstanceStatus.STARTING)
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "instance"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "last_heartbeat"], name="instance_status_heartbeat")]
        constraints = [
            choices_constraint("role", InstanceRole, "instance_role_valid"),
            choices_constraint("status", InstanceStatus, "instance_status_valid"),
        ]

    def __str__(self) -> str:
        return self.instance_id


class LeaderLease(models.Model):
    """The database record of leadership.  ``epoch`` only grows; leader-only writes check it."""

    name = models.CharField(max_length=40, primary_key=True, default="default")
    epoch = models.BigIntegerField(default=0)
    holder = models.CharField(max_length=120, blank=True)
    backend = models.CharField(max_length=10, blank=True, help_text="redis or postgres")
    acquired_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(epoch__gte=0), name="leader_epoch_non_negative")]

    def __str__(self) -> str:
        return f"{self.name}: epoch {self.epoch} held by {self.holder or 'nobody'}"


class JobRun(models.Model):
    """One execution of a periodic job for one period: the key that makes a stray duplicate harmless."""

    job = models.CharField(max_length=60)
    period = models.CharField(max_length=40)
    epoch = models.BigIntegerField(default=0)
    instance_id = models.CharField(max_length=120)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    duplicates = models.PositiveIntegerField(default=0, help_text="Later deliveries of the same period, skipped")

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="job_run_once_per_period")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.period}"


class RunTrigger(models.TextChoices):
    STARTUP = "startup", "Startup / leadership"
    PERIODIC = "periodic", "Periodic"
    MANUAL = "manual", "Manual (API or admin)"
    COMMAND = "command", "Management command"


class RecoveryRun(models.Model):
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    instance_id = models.CharField(max_length=120)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    warnings = models.JSONField(default=list, blank=True)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [choices_constraint("trigger", RunTrigger, "recovery_trigger_valid")]

    def __str__(self) -> str:
        return f"Recovery #{self.pk} ({self.trigger})"


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


class DiscrepancyStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Discrepancy(models.Model):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="discrepancies")
    last_seen_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=DiscrepancyKind.choices)
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
        indexes = [models.Index(fields=["instrument", "status"], name="discrepancy_instrument_status")]
        constraints = [
            choices_constraint("kind", DiscrepancyKind, "discrepancy_kind_valid"),
            choices_constraint("status", DiscrepancyStatus, "discrepancy_status_valid"),
            models.UniqueConstraint(
                fields=["symbol", "exchange"],
                condition=Q(status="open"),
                name="discrepancy_one_open_per_symbol",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.exchange}:{self.symbol} ({self.status})"


class OpsAuditLog(models.Model):
    """Who did what, when, through which ops surface (admin, API, command)."""

    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=60, blank=True)
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ops audit entry"
        verbose_name_plural = "ops audit log"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"
