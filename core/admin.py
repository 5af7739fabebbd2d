"""Back office of the platform: instances and the leader, periodic job runs, the ops audit log; the
read-only base class for every table that only services write; and the column helpers every admin
list uses for readable numbers (``core.formatting``): money in ₹ with Indian grouping, prices to the
instrument's tick, P&L coloured, statuses as coloured badges.  Timestamps need no helper: Django's
date format (``core/formats``) shows them in IST with the zone everywhere in the admin."""

from __future__ import annotations

import json
from operator import attrgetter

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html

from core import formatting
from core.models import InstanceMetadata, JobRun, LeaderLease, OpsAuditLog
from core.templatetags.pm_format import pnl_html


class PermissionedActionsMixin:
    """An action the user may not run is refused with 403 (Django's admin would answer a redirect with
    "no action selected"), so a forged or stale POST of a money action is an explicit refusal."""

    def changelist_view(self, request, extra_context=None):
        name = request.POST.get("action", "") if request.method == "POST" else ""
        if name:
            known = {action_name for _func, action_name, _desc in self._get_base_actions()}
            if name in known and name not in self.get_actions(request):
                raise PermissionDenied(f"you may not run the action {name!r}")
        return super().changelist_view(request, extra_context)


def require_permission(request, permission: str) -> None:
    """For admin views and API views of money- and state-moving actions (DESIGN §15.4)."""
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"this action needs the permission {permission}")


class ReadOnlyAdmin(PermissionedActionsMixin, admin.ModelAdmin):
    """For rows that only services may write."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _value(obj, path: str):
    try:
        return attrgetter(path)(obj)
    except AttributeError:
        return None


def money_column(field: str, description: str, *, pnl: bool = False, when=None):
    """A list/readonly column of money in ₹ (``pnl``: signed and coloured); ``when(obj)`` false → —."""

    @admin.display(description=description, ordering=field.replace(".", "__"))
    def column(self, obj):
        if when is not None and not when(obj):
            return formatting.DASH
        value = _value(obj, field)
        return pnl_html(value) if pnl else formatting.format_money(value)

    return column


def price_column(field: str, description: str, *, tick: str | None = "instrument.tick_size", when=None):
    """A price to the tick of ``tick`` (an attribute path from the row; None → two decimals)."""

    @admin.display(description=description, ordering=field.replace(".", "__"))
    def column(self, obj):
        if when is not None and not when(obj):
            return formatting.DASH
        return formatting.format_price(_value(obj, field), _value(obj, tick) if tick else None)

    return column


def number_column(field: str, description: str, *, places: int = 2, suffix: str = ""):
    @admin.display(description=description, ordering=field.replace(".", "__"))
    def column(self, obj):
        value = _value(obj, field)
        text = formatting.format_number(value, places)
        return f"{text}{suffix}" if value is not None else text

    return column


def status_badge(value: str, label: str | None = None) -> str:
    """A status as a badge coloured by ``pm.css`` (unknown statuses get the neutral colour)."""
    return format_html('<span class="pm-status pm-status-{}">{}</span>', value, label or value)


def status_column(field: str = "status", description: str = "status"):
    @admin.display(description=description, ordering=field.replace(".", "__"))
    def column(self, obj):
        return status_badge(getattr(obj, field))

    return column


def pretty_json(value) -> str:
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, default=str))


@admin.register(InstanceMetadata)
class InstanceMetadataAdmin(ReadOnlyAdmin):
    list_display = ("instance_id", "role", "hostname", "pid", "port", "status_badge", "leader_since", "started_at",
                    "last_heartbeat", "heartbeat_age")
    list_filter = ("role", "status")
    search_fields = ("instance_id", "hostname")
    status_badge = status_column()

    def get_queryset(self, request):
        from django.db.models import DurationField, ExpressionWrapper, F
        from django.db.models.functions import Now

        # The database's clock, the one heartbeats are written with.
        age = ExpressionWrapper(Now() - F("last_heartbeat"), output_field=DurationField())
        return super().get_queryset(request).annotate(heartbeat_age_value=age)

    @admin.display(description="heartbeat age", ordering="last_heartbeat")
    def heartbeat_age(self, obj):
        return formatting.format_age(getattr(obj, "heartbeat_age_value", None))

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
        return f"leader (epoch {lease.epoch}) since {formatting.format_timestamp(lease.acquired_at)}" if lease else "leader"


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
    fields = ("created_at", "actor", "action", "target_type", "target_id", "note", "before_json", "after_json",
              "details_json")
    readonly_fields = fields

    @admin.display(description="before")
    def before_json(self, obj):
        return pretty_json(obj.before)

    @admin.display(description="after")
    def after_json(self, obj):
        return pretty_json(obj.after)

    @admin.display(description="details")
    def details_json(self, obj):
        return pretty_json(obj.details)
