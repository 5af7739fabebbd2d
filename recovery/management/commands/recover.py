"""``manage.py recover [--json]``: run startup recovery now (also run automatically when an instance
becomes leader) and print its record.

Exit code 0 when recovery succeeded without warnings, 1 when it left warnings (unresolved work,
invalid positions, discrepancies), 2 when a step failed or the broker could not be read.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from reconciliation.management.commands.reconcile_broker import report_text
from reconciliation.models import RunTrigger
from recovery.services.recovery import recovery_run


def _summary(run) -> str:
    report = run.report
    found = report.get("found", {})
    resolved = report.get("resolved", {})
    lines = [
        f"Recovery #{run.pk} ({run.trigger}) on {run.instance_id}: {'succeeded' if run.succeeded else 'FAILED'}",
        f"  orphaned locks removed: {len(report.get('locks_removed', []))}",
        "  incomplete work found: " + ", ".join(f"{len(v)} {k}" for k, v in found.items()),
        f"  released signals: {resolved.get('released', [])}; settled positions: {resolved.get('settled', [])}",
        f"  instruments still held: {report.get('held_instruments') or 'none'}",
        f"  signals queued for execution: {report.get('kicked') or 'none'}",
    ]
    lines += [f"  step failed: {e['step']}: {e['error']}" for e in report.get("errors", [])]
    lines.append(f"Warnings ({len(run.warnings)}):" if run.warnings else "No warnings.")
    lines += [f"  - {w['check']}: {w.get('label') or w.get('instrument') or ''} {w['detail']}".rstrip()
              for w in run.warnings]
    if report.get("reconciliation"):
        lines += ["", report_text(report["reconciliation"])]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Run startup recovery: clean locks, validate positions, resolve half-done work, reconcile."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, **options):
        run = recovery_run(trigger=RunTrigger.COMMAND)
        if options["json"]:
            body = {"run_id": run.pk, "trigger": run.trigger, "instance_id": run.instance_id,
                    "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat(),
                    "succeeded": run.succeeded, "warnings": run.warnings, "report": run.report}
            self.stdout.write(json.dumps(body, indent=2, default=str))
        else:
            self.stdout.write(_summary(run))
        code = 2 if not run.succeeded else (1 if run.warnings else 0)
        if code:
            raise SystemExit(code)
