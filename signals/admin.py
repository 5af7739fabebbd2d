from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from signals.models import SignalLog


@admin.register(SignalLog)
class SignalLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "instrument", "signal_type", "position", "signal_timestamp", "status",
                    "reason", "duplicate_count", "processed_by")
    list_filter = ("status", "signal_type", "instrument")
    search_fields = ("fingerprint", "reason")
    date_hierarchy = "received_at"
    list_select_related = ("instrument",)
