"""Back office of reconciliation: the runs, and discrepancy triage.

Rows here are written by services only.  Discrepancy triage runs as admin actions that call the
triage services; the repairs (close, adopt, import) and resolve go through an intermediate page
that asks for their inputs and a confirmation, and show the service's errors on that page.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core import formatting
from core.admin import ReadOnlyAdmin, pretty_json, require_permission, status_column
from core.models import OpsAuditLog
from reconciliation.forms import (
    AdoptQuantityForm,
    ClosePositionsForm,
    ImportPositionForm,
    NoteForm,
    SettleOrderForm,
    apply_errors,
)
from reconciliation.models import Discrepancy, DiscrepancyKind, DiscrepancyStatus, ReconciliationRun
from reconciliation.selectors import order_evidence, positions_holding
from reconciliation.services import triage
from reconciliation.services.reconcile import reconciliation_run_now

ACTION_TEMPLATE = "admin/reconciliation/discrepancy_action.html"


def position_links(ids) -> str:
    return format_html_join(", ", '<a href="{}">#{}</a>',
                            ((reverse("admin:positions_position_change", args=[pid]), pid) for pid in ids)) or "—"


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "trigger", "outcome_badge", "started_at", "finished_at", "requested_by", "discrepancy_count")
    outcome_badge = status_column("outcome", "outcome")
    list_filter = ("trigger", "outcome")
    fields = ("trigger", "outcome", "instance_id", "requested_by", "started_at", "finished_at", "items_table",
              "other_symbols", "broker_snapshot_json")
    readonly_fields = fields
    change_list_template = "admin/reconciliation/reconciliationrun/change_list.html"

    @admin.display(description="discrepancies")
    def discrepancy_count(self, obj):
        return sum(1 for item in obj.report.get("items", []) if item.get("kind") != "matched")

    @admin.display(description="symbols")
    def items_table(self, obj):
        rows = [(item, "") for item in obj.report.get("items", [])]
        rows += [(item, "in flight, not compared") for item in obj.report.get("in_flight", [])]
        if obj.report.get("error"):
            return format_html("Broker could not be read: {}", obj.report["error"])
        if not rows:
            return "none"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                    "<td>{}</td></tr>", (
            (i["symbol"], i["exchange"], i["instrument"] or "", i["expected"], i["broker"], i.get("kind") or note,
             position_links(i["position_ids"])) for i, note in rows))
        return format_html("<table><tr><th>symbol</th><th>exchange</th><th>instrument</th><th>expected</th>"
                           "<th>broker</th><th>kind</th><th>positions</th></tr>{}</table>", body)

    @admin.display(description="other symbols at the broker")
    def other_symbols(self, obj):
        return ", ".join(f"{o['exchange']}:{o['symbol']} {o['broker']}" for o in obj.report.get("other_symbols", [])
                         ) or "none"

    @admin.display(description="raw broker positions")
    def broker_snapshot_json(self, obj):
        return pretty_json(obj.broker_snapshot)

    def get_urls(self):
        return [path("run/", self.admin_site.admin_view(self.run_now_view), name="reconciliation_reconciliationrun_run"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        can_run = request.user.has_perm("reconciliation.run_reconciliation")
        return super().changelist_view(request, {**(extra_context or {}), "can_run_reconciliation": can_run})

    def run_now_view(self, request):
        """POST: reconcile now (trigger manual, audited) and open the new run."""
        require_permission(request, "reconciliation.run_reconciliation")
        if request.method != "POST":
            return redirect(reverse("admin:reconciliation_reconciliationrun_changelist"))
        report = reconciliation_run_now(actor=request.user.get_username())
        level = messages.SUCCESS if report["outcome"] == "matched" else messages.WARNING
        self.message_user(request, f"Reconciliation #{report['run_id']}: {report['outcome']}.", level)
        return redirect(reverse("admin:reconciliation_reconciliationrun_change", args=[report["run_id"]]))


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    _SPANS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

    def lookups(self, request, model_admin):
        return [("hour", "Less than 1 hour"), ("day", "Less than 1 day"), ("older", "Older than 1 day")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() in self._SPANS:
            return queryset.filter(created_at__gte=now - self._SPANS[self.value()])
        if self.value() == "older":
            return queryset.filter(created_at__lt=now - self._SPANS["day"])
        return queryset


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "symbol", "exchange", "instrument", "expected_quantity", "broker_quantity",
                    "status_badge", "created_at", "last_seen")
    status_badge = status_column()
    list_filter = ("kind", "instrument", "status", AgeFilter)
    search_fields = ("symbol",)
    list_select_related = ("instrument", "last_seen_run")
    fields = ("kind", "status", "symbol", "exchange", "instrument", "expected_quantity", "broker_quantity",
              "positions", "run_link", "last_seen", "created_at", "updated_at", "resolved_at", "resolved_by",
              "resolution_note", "audit_trail")
    readonly_fields = fields
    actions = ["acknowledge", "resolve", "close_positions", "adopt_broker_quantity", "import_position",
               "settle_order"]

    def has_triage_permission(self, request):
        return request.user.has_perm("reconciliation.change_discrepancy")

    def has_settle_unresolved_order_permission(self, request):
        return request.user.has_perm("reconciliation.settle_unresolved_order")

    # The repairs change our books (P&L, lots, a new position): each has its own permission.
    def has_close_positions_at_price_permission(self, request):
        return request.user.has_perm("reconciliation.close_positions_at_price")

    def has_adopt_broker_quantity_permission(self, request):
        return request.user.has_perm("reconciliation.adopt_broker_quantity")

    def has_import_broker_position_permission(self, request):
        return request.user.has_perm("reconciliation.import_broker_position")

    @admin.display(description="positions")
    def positions(self, obj):
        return position_links(obj.position_ids)

    @admin.display(description="found by")
    def run_link(self, obj):
        if obj.run_id is None:
            return f"order {obj.order_intent.client_order_id}" if obj.order_intent_id else "the order lifecycle"
        return format_html('<a href="{}">reconciliation #{}</a>',
                           reverse("admin:reconciliation_reconciliationrun_change", args=[obj.run_id]), obj.run_id)

    @admin.display(description="last seen")
    def last_seen(self, obj):
        return formatting.format_timestamp(obj.last_seen_run.started_at) if obj.last_seen_run else formatting.DASH

    @admin.display(description="audit trail")
    def audit_trail(self, obj):
        entries = OpsAuditLog.objects.filter(target_type="discrepancy", target_id=str(obj.pk)).order_by("created_at")
        return format_html_join("", "<div>{} — {} — {} {}</div>",
                                ((formatting.format_timestamp(e.created_at), e.actor, e.action, e.note)
                                 for e in entries)) or "none"

    # ------------------------------------------------------------------ actions

    def _page(self, request, queryset, *, action: str, title: str, form, submit: str, record=None, positions=()):
        context = {
            **self.admin_site.each_context(request), "title": title, "form": form, "action": action,
            "queryset": queryset, "opts": self.model._meta, "submit_label": submit, "record": record,
            "positions": positions, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, ACTION_TEMPLATE, context)

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one discrepancy for this action.", messages.ERROR)
            return None
        return queryset.get()

    def _bulk(self, request, queryset, *, action, title, submit, service, note_required):
        """Acknowledge / resolve every selected discrepancy, each in its own transaction."""
        form = NoteForm(request.POST if "apply" in request.POST else None, note_required=note_required)
        if not form.is_bound or not form.is_valid():
            return self._page(request, queryset, action=action, title=title, form=form, submit=submit)
        done, failed = [], []
        for record in queryset.order_by("id"):
            try:
                service(discrepancy_id=record.pk, actor=request.user.get_username(), note=form.cleaned_data["note"])
                done.append(f"#{record.pk}")
            except ValidationError as exc:
                failed.append(f"#{record.pk}: {'; '.join(exc.messages)}")
        if done:
            self.message_user(request, f"{title}: {', '.join(done)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not changed: {' | '.join(failed)}", messages.ERROR)
        return None

    @admin.action(description="Acknowledge (lifts the entry halt; stays listed)", permissions=["triage"])
    def acknowledge(self, request, queryset):
        return self._bulk(request, queryset, action="acknowledge", title="Acknowledged", submit="Acknowledge",
                          service=triage.discrepancy_acknowledge, note_required=False)

    @admin.action(description="Resolve with a note", permissions=["triage"])
    def resolve(self, request, queryset):
        return self._bulk(request, queryset, action="resolve", title="Resolved", submit="Resolve",
                          service=triage.discrepancy_resolve, note_required=True)

    def _repair(self, request, queryset, *, action, title, submit, make_form, run):
        """One discrepancy, an input form, a confirmation; the service's errors shown on the form."""
        record = self._one(request, queryset)
        if record is None:
            return None
        if record.status == DiscrepancyStatus.RESOLVED:
            self.message_user(request, f"Discrepancy #{record.pk} is already resolved.", messages.ERROR)
            return None
        positions = positions_holding(symbol=record.symbol, exchange=record.exchange)
        form = make_form(request.POST if "apply" in request.POST else None, positions)
        if form.is_bound and form.is_valid():
            try:
                done = run(record, form)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return None
        return self._page(request, queryset, action=action, title=f"{title}: {record.exchange}:{record.symbol}",
                          form=form, submit=submit, record=record, positions=positions)

    @admin.action(description="Close our position(s) at a price (broker is flat; no order)",
                  permissions=["close_positions_at_price"])
    def close_positions(self, request, queryset):
        def run(record, form):
            triage.discrepancy_close_positions(
                discrepancy_id=record.pk, position_ids=form.cleaned_data["positions"], price=form.cleaned_data["price"],
                actor=request.user.get_username(), note=form.cleaned_data["note"])
            record.refresh_from_db()
            return (f"Closed positions {form.cleaned_data['positions']} at {form.cleaned_data['price']}; "
                    f"discrepancy #{record.pk} is {record.status}.")

        return self._repair(request, queryset, action="close_positions", title="Close our positions at a price",
                            submit="Close positions and book P&L", run=run,
                            make_form=lambda data, positions: ClosePositionsForm(data, positions=positions))

    @admin.action(description="Adopt the broker quantity (resize our positions; no order)",
                  permissions=["adopt_broker_quantity"])
    def adopt_broker_quantity(self, request, queryset):
        def run(record, form):
            triage.discrepancy_adopt_broker_quantity(discrepancy_id=record.pk, lots=form.lots(),
                                                     actor=request.user.get_username(), note=form.cleaned_data["note"])
            return f"Adopted the broker quantity {record.broker_quantity} of {record.symbol}; #{record.pk} resolved."

        return self._repair(request, queryset, action="adopt_broker_quantity", title="Adopt the broker quantity",
                            submit="Resize our positions", run=run,
                            make_form=lambda data, positions: AdoptQuantityForm(data, positions=positions))

    @admin.action(description="Import the broker position as ours (no order)", permissions=["import_broker_position"])
    def import_position(self, request, queryset):
        def run(record, form):
            data = form.cleaned_data
            position = triage.discrepancy_import_position(
                discrepancy_id=record.pk, layer=data["layer"], initial_stop=data["initial_stop"], atr=data["atr"],
                entry_price=data["entry_price"], actor=request.user.get_username(), note=data["note"])
            return f"Imported {position.label} #{position.pk}: {position.lots} lots at {position.entry_price}."

        record = queryset.first()
        if record is not None and queryset.count() == 1 and record.kind != DiscrepancyKind.MISSING:
            self.message_user(request, f"Only a missing position can be imported; #{record.pk} is {record.kind}.",
                              messages.ERROR)
            return None
        return self._repair(request, queryset, action="import_position", title="Import the broker position",
                            submit="Import as an open position", run=run,
                            make_form=lambda data, positions: ImportPositionForm(data))

    @admin.action(description="Settle an unresolved order (link a broker order, or declare it not placed)",
                  permissions=["settle_unresolved_order"])
    def settle_order(self, request, queryset):
        record = self._one(request, queryset)
        if record is None:
            return None
        if record.kind != DiscrepancyKind.UNRESOLVED_ORDER or record.status == DiscrepancyStatus.RESOLVED:
            self.message_user(request, f"#{record.pk} is not an unresolved order still open.", messages.ERROR)
            return None
        form = SettleOrderForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                triage.discrepancy_settle_order(discrepancy_id=record.pk, actor=request.user.get_username(),
                                                broker_order_id=form.cleaned_data["broker_order_id"],
                                                note=form.cleaned_data["note"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                self.message_user(request, f"Order {record.order_intent.client_order_id} settled; #{record.pk} "
                                           "resolved.", messages.SUCCESS)
                return None
        page = self._page(request, queryset, action="settle_order", submit="Settle the order", record=record,
                          title=f"Settle unresolved order {record.order_intent.client_order_id}", form=form)
        page.context_data["evidence"] = order_evidence(record)
        return page
