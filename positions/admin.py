"""Back office views of positions, pyramiding state, order intents and the paper broker's book.

All of these rows are written by services only; admin shows them read-only.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from core import formatting
from core.admin import ReadOnlyAdmin, money_column, price_column, status_badge, status_column
from core.templatetags.pm_format import pnl_html
from positions.models import LIVE_STATUSES, OrderIntent, PaperOrder, PaperPosition, Position, PyramidingState
from positions.rollover_admin import roll_now, rollover_link


def _held(position) -> bool:
    return position.status in ("open", "closing")


def _closed(position) -> bool:
    return position.status == "closed"


class OrderIntentInline(admin.TabularInline):
    model = OrderIntent
    fields = ("client_order_id", "purpose", "leg", "action", "quantity", "filled_quantity", "symbol", "status_badge",
              "broker_order_id", "fill", "modifications", "error")
    readonly_fields = fields
    status_badge = status_column()
    fill = price_column("fill_price", "fill price", tick=None)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    # Live rows show their open P&L; closed rows their realised P&L, exit price and reason.
    # (Mark prices and rollover state per layer are on the cockpit.)
    list_display = ("id", "label", "status_badge", "exit_pending_note", "lots", "entry", "stop", "open_pnl", "exit_fill", "realised",
                    "exit_reason", "expiry", "opened_at", "closed_at")
    status_badge = status_column()
    entry = price_column("entry_price", "entry")
    stop = price_column("current_stop", "stop", when=lambda p: p.status in LIVE_STATUSES)
    open_pnl = money_column("unrealized_pnl", "open P&L", pnl=True, when=_held)
    exit_fill = price_column("exit_price", "exit price", when=_closed)
    realised = money_column("realized_pnl", "realised P&L", pnl=True, when=lambda p: p.realized_pnl is not None)
    list_filter = ("status", "instrument", "is_base_position", "rollover_status")
    search_fields = ("label", "futures_symbol", "pe_symbol", "ce_symbol", "exit_reason", "legacy_key")
    date_hierarchy = "created_at"
    list_select_related = ("instrument",)
    inlines = [OrderIntentInline]
    actions = [roll_now]
    readonly_fields = ("summary",)
    fieldsets = (
        (None, {"fields": ("summary",)}),
        ("Every field", {"classes": ("collapse",),
                         "fields": [f.name for f in Position._meta.concrete_fields if f.name != "id"]}),
    )

    @admin.display(description="position")
    def summary(self, obj):
        """The position as a trader reads it: prices to the tick, money in ₹, P&L coloured."""
        tick = obj.instrument.tick_size

        def price(value):
            return formatting.format_price(value, tick)

        rows = [
            ("status", status_badge(obj.status)), ("lots", f"{obj.lots} (broker quantity {obj.quantity} a leg)"),
            ("contract", ", ".join(obj.symbols) + f" — expiry {obj.expiry:%d %b %Y}"),
            ("entry", f"{price(obj.entry_price)} (signal {price(obj.signal_price)}, ATR {price(obj.entry_atr)})"),
            ("stops", f"initial {price(obj.initial_stop)}, current {price(obj.current_stop)}, highest close "
                      f"{price(obj.highest_close)}"),
            ("risk at entry", formatting.format_money(obj.risk_at_entry)),
        ]
        if obj.status in ("open", "closing"):
            rows += [("mark", price(obj.instrument.mark_price)), ("open P&L", pnl_html(obj.unrealized_pnl))]
        if obj.status == "closed":
            rows += [("exit", f"{price(obj.exit_price)} — {obj.exit_reason or formatting.DASH}"),
                     ("realised P&L", pnl_html(obj.realized_pnl))]
        if obj.retry_at is not None:
            rows.append(("exit pending", f"next attempt {formatting.format_timestamp(obj.retry_at)}: {obj.last_error}"))
        if obj.rollover_count or obj.rollover_status != "none":
            rows.append(("rollover", format_html("{}, {} done, rollover P&amp;L {} — {}", obj.rollover_status,
                                                 obj.rollover_count, formatting.format_money(obj.rollover_pnl, sign=True),
                                                 rollover_link(obj))))
        rows += [("opened", formatting.format_timestamp(obj.opened_at)),
                 ("closed", formatting.format_timestamp(obj.closed_at))]
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html('<table class="pm-table" id="position-summary">{}</table>', body)

    def has_roll_permission(self, request):
        return request.user.has_perm("positions.roll_position")

    @admin.display(description="exit pending")
    def exit_pending_note(self, obj):
        """A closing position whose last exit attempt failed: when it is tried again, and why."""
        if obj.retry_at is None:
            return ""
        return f"retry {obj.retry_at:%H:%M:%S}: {obj.last_error[:80]}"


@admin.register(PyramidingState)
class PyramidingStateAdmin(ReadOnlyAdmin):
    list_display = ("instrument", "base_position", "last_price", "updated_at")
    list_select_related = ("instrument", "base_position")
    last_price = price_column("last_pyramid_price", "last entry price")


@admin.register(OrderIntent)
class OrderIntentAdmin(ReadOnlyAdmin):
    list_display = ("id", "client_order_id", "position", "purpose", "leg", "action", "quantity", "filled_quantity",
                    "symbol", "status_badge", "broker_order_id", "fill", "created_at")
    list_filter = ("status", "purpose", "leg", "exchange")
    search_fields = ("client_order_id", "broker_order_id", "symbol", "position__label")
    list_select_related = ("position", "position__instrument")
    status_badge = status_column()
    # Option legs fill at option premiums: the instrument's tick is for the underlying, so two decimals.
    fill = price_column("fill_price", "fill price", tick=None)
    date_hierarchy = "created_at"


@admin.register(PaperOrder)
class PaperOrderAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "tag", "action", "quantity", "symbol", "exchange", "average", "status", "created_at")
    average = price_column("average_price", "average price", tick=None)
    list_filter = ("status", "exchange", "action")
    search_fields = ("order_id", "tag", "symbol")


@admin.register(PaperPosition)
class PaperPositionAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "exchange", "net_quantity", "average", "updated_at")
    average = price_column("average_price", "average price", tick=None)
    list_filter = ("exchange",)
    search_fields = ("symbol",)
