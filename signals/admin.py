"""Back office of the signal log.  The signal page shows the decision as people read it: every check
with passed/failed and the numbers behind it, the order intents with their broker states and fills,
and links to the positions the signal opened, closed, trailed or exited."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import formatting
from core.admin import ReadOnlyAdmin, pretty_json, status_badge, status_column
from signals.models import SignalLog


def _detail(detail) -> str:
    if isinstance(detail, dict):
        return format_html_join("; ", "{} <strong>{}</strong>", (
            (formatting.humanize_key(key), formatting.format_detail_value(value)) for key, value in detail.items()
        )) or formatting.DASH
    return formatting.format_detail_value(detail)


def _position_ids_in(result: dict) -> set[int]:
    """Positions named in a decision's lists (stops moved, exits triggered, exits planned)."""
    found = set()
    for value in result.values():
        if isinstance(value, list):
            found.update(item["position_id"] for item in value
                         if isinstance(item, dict) and isinstance(item.get("position_id"), int))
    return found


@admin.register(SignalLog)
class SignalLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "instrument", "signal_type", "position", "signal_timestamp", "status_badge",
                    "reason", "duplicate_count", "processed_by")
    list_filter = ("status", "signal_type", "instrument")
    search_fields = ("fingerprint", "reason")
    date_hierarchy = "received_at"
    list_select_related = ("instrument",)
    fieldsets = (
        (None, {"fields": ("signal_type", "instrument", "position", "status_badge", "reason", "signal_timestamp",
                           "received_at", "processed_at", "processed_by", "duplicate_count", "attempts",
                           "fingerprint")}),
        ("Decision", {"fields": ("checks_table", "orders_table", "positions_touched")}),
        ("Raw", {"classes": ("collapse",), "fields": ("result_json", "payload_json")}),
    )
    readonly_fields = ("signal_type", "instrument", "position", "status_badge", "reason", "signal_timestamp",
                       "received_at", "processed_at", "processed_by", "duplicate_count", "attempts", "fingerprint",
                       "checks_table", "orders_table", "positions_touched", "result_json", "payload_json")
    status_badge = status_column()

    @admin.display(description="checks")
    def checks_table(self, obj):
        checks = (obj.result or {}).get("checks") or []
        if not checks:
            return "none evaluated" if obj.result else "not decided yet"
        rows = format_html_join("", '<tr class="check-{}"><td>{}</td><td>{}</td><td>{}</td></tr>', (
            ("passed" if c.get("passed") else "failed", c.get("check", "?"),
             status_badge("executed" if c.get("passed") else "failed", "passed" if c.get("passed") else "failed"),
             _detail(c.get("detail"))) for c in checks))
        return format_html('<table class="pm-table" id="signal-checks"><tr><th>check</th><th>result</th>'
                           '<th>the numbers</th></tr>{}</table>', rows)

    @admin.display(description="order intents")
    def orders_table(self, obj):
        from positions.models import OrderIntent

        intents = list(OrderIntent.objects.filter(signal_id=obj.pk).select_related("position").order_by("id"))
        if not intents:
            return "none"
        rows = format_html_join("", "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{} {} × {}</td><td>{}</td>"
                                    "<td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>"
                                    "<td>{}</td></tr>", (
            (reverse("admin:positions_orderintent_change", args=[i.pk]), i.client_order_id,
             f"{i.purpose} {i.leg}", i.action, i.symbol, i.quantity, status_badge(i.status),
             i.broker_order_id or formatting.DASH, formatting.format_price(i.fill_price),
             f"{i.filled_quantity}/{i.quantity}", formatting.format_timestamp(i.filled_at or i.accepted_at or i.sent_at),
             i.error or "") for i in intents))
        return format_html('<table class="pm-table" id="signal-orders"><tr><th>intent</th><th>purpose</th>'
                           '<th>order</th><th>broker state</th><th>broker order</th><th>fill price</th>'
                           '<th>filled</th><th>last broker time</th><th>error</th></tr>{}</table>', rows)

    @admin.display(description="positions touched")
    def positions_touched(self, obj):
        from positions.models import Position

        named = _position_ids_in(obj.result or {})
        positions = (Position.objects.filter(Q(entry_signal_id=obj.pk) | Q(exit_signal_id=obj.pk)
                                             | Q(intents__signal_id=obj.pk) | Q(pk__in=named))
                     .distinct().order_by("id").only("id", "label", "status", "entry_signal_id", "exit_signal_id"))
        if not positions:
            return "none"

        def role(p) -> str:
            if p.entry_signal_id == obj.pk:
                return "opened"
            return "closed" if p.exit_signal_id == obj.pk else "trailed / exited"

        return format_html_join(", ", '<a class="touched-position" href="{}">{} #{}</a> ({}, {})', (
            (reverse("admin:positions_position_change", args=[p.pk]), p.label, p.pk, role(p), p.status)
            for p in positions))

    @admin.display(description="result")
    def result_json(self, obj):
        return pretty_json(obj.result)

    @admin.display(description="payload")
    def payload_json(self, obj):
        return pretty_json(obj.payload)
