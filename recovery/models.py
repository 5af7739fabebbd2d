"""Startup recovery runs (DESIGN §10)."""

from __future__ import annotations

from django.db import models

from core.dbutils import choices_constraint
from reconciliation.models import RunTrigger


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
