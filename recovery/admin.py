"""Back office of startup recovery: its runs, their warnings and what they resolved; the admin index
shows open discrepancies first."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import formatting
from core.admin import ReadOnlyAdmin, pretty_json
from recovery.models import RecoveryRun

admin.site.index_template = "admin/recovery/index.html"  # the index shows open discrepancies first


@admin.register(RecoveryRun)
class RecoveryRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "trigger", "instance_id", "started_at", "took", "succeeded", "warning_count",
                    "held_instruments")
    list_filter = ("trigger", "succeeded")
    fields = ("trigger", "instance_id", "started_at", "finished_at", "succeeded", "warnings_table", "summary",
              "report_json")
    readonly_fields = fields

    @admin.display(description="took")
    def took(self, obj):
        if obj.finished_at is None:
            return "running" if obj.started_at else formatting.DASH
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds:.2f} s" if seconds < 60 else formatting.format_age(seconds)

    @admin.display(description="warnings")
    def warning_count(self, obj):
        return len(obj.warnings)

    @admin.display(description="held instruments")
    def held_instruments(self, obj):
        return ", ".join(obj.report.get("held_instruments", [])) or "—"

    @admin.display(description="warnings")
    def warnings_table(self, obj):
        if not obj.warnings:
            return "none"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (w.get("check"), w.get("instrument", ""), w.get("label") or w.get("position_id") or w.get("signal_id")
             or "", w.get("detail", "")) for w in obj.warnings))
        return format_html("<table><tr><th>check</th><th>instrument</th><th>subject</th><th>detail</th></tr>{}"
                           "</table>", rows)

    @admin.display(description="summary")
    def summary(self, obj):
        report = obj.report
        reconciliation = report.get("reconciliation") or {}
        link = "—"
        if reconciliation.get("run_id"):
            link = format_html('<a href="{}">#{} ({})</a>', reverse("admin:reconciliation_reconciliationrun_change",
                                                                    args=[reconciliation["run_id"]]),
                               reconciliation["run_id"], reconciliation.get("outcome"))
        found = ", ".join(f"{len(v)} {k}" for k, v in report.get("found", {}).items()) or "—"
        errors = "; ".join(f"{e['step']}: {e['error']}" for e in report.get("errors", [])) or "none"
        return format_html("Found: {}<br>Released signals: {}<br>Settled positions: {}<br>Reconciliation: {}<br>"
                           "Step errors: {}", found, report.get("resolved", {}).get("released", []),
                           report.get("resolved", {}).get("settled", []), link, errors)

    @admin.display(description="full report")
    def report_json(self, obj):
        return pretty_json(obj.report)


