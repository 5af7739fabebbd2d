"""The platform's own tables: process instances, the leader lease, periodic job runs, the ops audit log."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.dbutils import choices_constraint


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


class OpsAuditLog(models.Model):
    """Who did what, when, to what (before and after), why, through which ops surface (admin, API, command)."""

    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=60, blank=True)
    note = models.TextField(blank=True)
    # What the action changed: the target's relevant fields as they were and as they became.
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "ops audit entry"
        verbose_name_plural = "ops audit log"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"
