"""Back office views of positions, pyramiding state, order intents and the paper broker's book.

All of these rows are written by services only; admin shows them read-only.
"""

from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from positions.models import OrderIntent, PaperOrder, PaperPosition, Position, PyramidingState


class OrderIntentInline(admin.TabularInline):
    model = OrderIntent
    fields = ("client_order_id", "purpose", "leg", "action", "quantity", "filled_quantity", "symbol", "status",
              "broker_order_id", "fill_price", "modifications", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ("id", "label", "status", "exit_pending_note", "lots", "entry_price", "current_stop",
                    "highest_close", "unrealized_pnl", "realized_pnl", "expiry", "rollover_status", "opened_at",
                    "closed_at")
    list_filter = ("status", "instrument", "is_base_position", "rollover_status")
    search_fields = ("label", "futures_symbol", "pe_symbol", "ce_symbol", "exit_reason", "legacy_key")
    date_hierarchy = "created_at"
    list_select_related = ("instrument",)
    inlines = [OrderIntentInline]

    @admin.display(description="exit pending")
    def exit_pending_note(self, obj):
        """A closing position whose last exit attempt failed: when it is tried again, and why."""
        if obj.retry_at is None:
            return ""
        return f"retry {obj.retry_at:%H:%M:%S}: {obj.last_error[:80]}"


@admin.register(PyramidingState)
class PyramidingStateAdmin(ReadOnlyAdmin):
    list_display = ("instrument", "base_position", "last_pyramid_price", "updated_at")


@admin.register(OrderIntent)
class OrderIntentAdmin(ReadOnlyAdmin):
    list_display = ("id", "client_order_id", "position", "purpose", "leg", "action", "quantity", "filled_quantity",
                    "symbol", "status", "broker_order_id", "fill_price", "created_at")
    list_filter = ("status", "purpose", "leg", "exchange")
    search_fields = ("client_order_id", "broker_order_id", "symbol", "position__label")
    list_select_related = ("position",)
    date_hierarchy = "created_at"


@admin.register(PaperOrder)
class PaperOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "tag", "action", "quantity", "symbol", "exchange", "average_price", "status",
                    "created_at")
    list_filter = ("status", "exchange", "action")
    search_fields = ("order_id", "tag", "symbol")


@admin.register(PaperPosition)
class PaperPositionAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "exchange", "net_quantity", "average_price", "updated_at")
    list_filter = ("exchange",)
    search_fields = ("symbol",)
