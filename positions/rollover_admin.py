"""Back office of rollovers: the list of every rollover with its steps, P&L and errors, and the
"roll now" action on positions (its own permission, a confirmation page, an audit row)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import formatting
from core.admin import ReadOnlyAdmin, money_column, price_column
from core.services import audit_record
from positions.models import Rollover
from positions.services.rollover import RolloverRefused
from positions.services.rollover_run import rollover_run

ROLL_TEMPLATE = "admin/positions/roll_now.html"


@admin.register(Rollover)
class RolloverAdmin(ReadOnlyAdmin):
    list_display = ("id", "position", "number", "phase", "old", "new", "close", "pnl_booked", "opened_at_price",
                    "attempts", "retry_at", "error", "created_at", "finished_at")
    list_filter = ("phase", "position__instrument")
    search_fields = ("position__label", "old_futures_symbol", "new_futures_symbol", "old_ce_symbol", "new_ce_symbol")
    list_select_related = ("position", "position__instrument")
    date_hierarchy = "created_at"
    readonly_fields = ("step_log",)
    close = price_column("close_price", "old contract closed at", tick=None)
    pnl_booked = money_column("pnl", "rollover P&L", pnl=True, when=lambda r: r.pnl is not None)
    opened_at_price = price_column("open_price", "new entry", tick=None)

    @admin.display(description="old contract")
    def old(self, obj):
        return ", ".join(obj.old_symbols)

    @admin.display(description="new contract")
    def new(self, obj):
        return ", ".join(obj.new_symbols)

    @admin.display(description="last error")
    def error(self, obj):
        return obj.last_error[:120]

    @admin.display(description="steps")
    def step_log(self, obj):
        rows = ((step.get("at", ""), step.get("step", ""),
                 ", ".join(f"{k} {v}" for k, v in step.items() if k not in ("at", "step"))) for step in obj.steps)
        return format_html('<table class="pm-table">{}</table>',
                           format_html_join("", "<tr><td>{}</td><th>{}</th><td>{}</td></tr>", rows))


@admin.action(description="Roll now to the next contract (sends orders)", permissions=["roll"])
def roll_now(modeladmin, request, queryset):
    """First a confirmation page naming each position's old and new contract; then one rollover per
    position.  The page carries each position's expiry as it was shown, so a second submit of the
    same page (or a position rolled meanwhile) rolls nothing twice."""
    positions = list(queryset.select_related("instrument").order_by("id"))
    if "apply" not in request.POST:
        plans = [(p, _plan(p.pk)) for p in positions]
        context = {**modeladmin.admin_site.each_context(request), "title": "Roll now", "plans": plans,
                   "opts": modeladmin.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, ROLL_TEMPLATE, context)
    actor = f"admin:{request.user.get_username()}"
    for position in positions:
        shown = request.POST.get(f"expiry_{position.pk}")
        if shown != position.expiry.isoformat():
            modeladmin.message_user(request, f"{position.label} #{position.pk}: its contract changed since the page was "
                                    "shown (already rolled?); nothing sent.", messages.WARNING)
            continue
        try:
            report = rollover_run(trigger=actor, position_id=position.pk)
        except RolloverRefused as exc:
            modeladmin.message_user(request, f"{position.label} #{position.pk}: {exc}", messages.ERROR)
            continue
        audit_record(actor=request.user.get_username(), action="rollover_now", target_type="position",
                     target_id=position.pk, note="admin roll now", details={"report": report})
        outcome = report[0] if report else {"outcome": "nothing"}
        level = messages.SUCCESS if outcome["outcome"] == "done" else messages.WARNING
        modeladmin.message_user(request, f"{position.label} #{position.pk}: {outcome['outcome']} "
                                f"{outcome.get('reason') or outcome.get('error') or ''}".rstrip(), level)
    return None


def _plan(position_id: int) -> dict:
    try:
        return rollover_run(position_id=position_id, dry_run=True)[0]
    except RolloverRefused as exc:
        return {"outcome": "refused", "reason": str(exc)}


def rollover_link(position) -> str:
    """The position's latest rollover, linked, for its page."""
    roll = position.rollovers.order_by("-number").first()
    if roll is None:
        return formatting.DASH
    return format_html('<a href="{}">rollover {} ({})</a>', reverse("admin:positions_rollover_change", args=[roll.pk]),
                       roll.number, roll.phase)
