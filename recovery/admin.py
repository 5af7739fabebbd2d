"""Back office for coordination, recovery runs, reconciliation and the ops audit log."""

from __future__ import annotations

from django.contrib import admin

from portfolio.admin import ReadOnlyAdmin
from recovery.models import (
    Discrepancy,
    InstanceMetadata,
    JobRun,
    LeaderLease,
    OpsAuditLog,
    ReconciliationRun,
    RecoveryRun,
)


@admin.register(InstanceMetadata)
class InstanceMetadataAdmin(ReadOnlyAdmin):
    list_display = ("instance_id", "role", "hostname", "pid", "port", "status", "started_at", "last_heartbeat")
    list_filter = ("role", "status")
    search_fields = ("instance_id", "hostname")


@admin.register(LeaderLease)
class LeaderLeaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "holder", "epoch", "backend", "acquired_at", "released_at")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "period", "epoch", "instance_id", "started_at", "finished_at")
    list_filter = ("job",)
    search_fields = ("job", "period", "instance_id")


@admin.register(RecoveryRun)
class RecoveryRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "trigger", "instance_id", "started_at", "finished_at", "succeeded")
    list_filter = ("trigger", "succeeded")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "trigger", "outcome", "started_at", "finished_at", "requested_by")
    list_filter = ("trigger", "outcome")


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "symbol", "exchange", "instrument", "expected_quantity", "broker_quantity", "status",
                    "created_at")
    list_filter = ("kind", "status", "instrument")
    search_fields = ("symbol",)


@admin.register(OpsAuditLog)
class OpsAuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "target_type", "target_id", "note")
    list_filter = ("action",)
    search_fields = ("actor", "action", "note", "target_id")
    date_hierarchy = "created_at"
