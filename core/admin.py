"""Back office of the platform: instances and the leader, periodic job runs, the ops audit log; and the
read-only base class for every table that only services write."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from core.models import InstanceMetadata, JobRun, LeaderLease, OpsAuditLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows that only services may write."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pretty_json(value) -> str:
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, default=str))


@admin.register(InstanceMetadata)
class InstanceMetadataAdmin(ReadOnlyAdmin):
    list_display = ("instance_id", "role", "hostname", "pid", "port", "status", "leader_since", "started_at",
                    "last_heartbeat")
    list_filter = ("role", "status")
    search_fields = ("instance_id", "hostname")

    def changelist_view(self, request, extra_context=None):
        from core.leader import current_leader

        self._leader = current_leader()
        self._lease = LeaderLease.objects.filter(name="default").first()
        return super().changelist_view(request, extra_context)

    @admin.display(description="Leader since")
    def leader_since(self, obj):
        """Blank unless this instance holds the lease now (Redis, or the database record without it)."""
        if obj.instance_id != getattr(self, "_leader", None):
            return ""
        lease = getattr(self, "_lease", None)
        return f"leader (epoch {lease.epoch}) since {lease.acquired_at:%Y-%m-%d %H:%M:%S}" if lease else "leader"


@admin.register(LeaderLease)
class LeaderLeaseAdmin(ReadOnlyAdmin):
    list_display = ("name", "holder", "epoch", "backend", "acquired_at", "released_at")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("job", "period", "epoch", "instance_id", "started_at", "finished_at")
    list_filter = ("job",)
    search_fields = ("job", "period", "instance_id")


@admin.register(OpsAuditLog)
class OpsAuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "target_type", "target_id", "note")
    list_filter = ("action", "target_type")
    search_fields = ("actor", "action", "note", "target_id")
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "action", "target_type", "target_id", "note", "details_json")
    readonly_fields = fields

    @admin.display(description="details")
    def details_json(self, obj):
        return pretty_json(obj.details)
