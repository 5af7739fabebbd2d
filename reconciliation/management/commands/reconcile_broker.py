"""``manage.py reconcile_broker [--dry-run] [--json]``: compare our books with the broker now.

Exit code 0 when every symbol matched, 1 when discrepancies were found, 2 when the broker could not
be read.  ``--dry-run`` compares and prints but records nothing (no run, no discrepancy, no alert).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from core.commands import command_actor
from reconciliation.models import ReconciliationOutcome, RunTrigger
from reconciliation.services.reconcile import reconciliation_run

EXIT_CODES = {
    ReconciliationOutcome.MATCHED: 0,
    ReconciliationOutcome.DISCREPANCIES: 1,
    ReconciliationOutcome.BROKER_UNAVAILABLE: 2,
}
_COLUMNS = ("symbol", "exchange", "instrument", "expected", "broker", "kind", "position_ids")



def _table(rows: list[dict], columns: tuple[str, ...]) -> list[str]:
    def cell(row: dict, column: str) -> str:
        if column == "position_ids":
            return ", ".join(f"#{p}" for p in row[column])
        return "" if row.get(column) is None else str(row[column])

    cells = [[cell(row, c) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    numeric = {"expected", "broker"}
    render = lambda values: "  ".join(  # noqa: E731
        v.rjust(w) if c in numeric else v.ljust(w) for v, w, c in zip(values, widths, columns)).rstrip()
    return [render([c.upper() for c in columns]), *(render(line) for line in cells)]


def report_text(report: dict) -> str:
    """The report as an operator reads it: outcome, then one line per symbol."""
    run = f"#{report['run_id']}" if report.get("run_id") else "(dry run, not recorded)"
    lines = [f"Reconciliation {run} started {report['started_at']}: {report['outcome'].upper()}"]
    if report.get("error"):
        lines.append(f"Broker could not be read: {report['error']}")
    if report["items"]:
        lines += ["", *_table(report["items"], _COLUMNS)]
    elif report["outcome"] != ReconciliationOutcome.BROKER_UNAVAILABLE:
        lines.append("Neither we nor the broker hold any of our contracts.")
    if report.get("in_flight"):
        lines += ["", "In flight (orders or bookings pending; compared on the next run):",
                  *_table(report["in_flight"], tuple(c for c in _COLUMNS if c != "kind"))]
    if report["other_symbols"]:
        lines += ["", "Broker positions in symbols we do not trade (not compared):",
                  *_table(report["other_symbols"], ("symbol", "exchange", "broker"))]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Reconcile our positions with the broker's net positions (exit 0 matched, 1 discrepancies, 2 broker down)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="compare only; record nothing")
        parser.add_argument("--json", action="store_true", help="print the JSON report")

    def handle(self, *args, **options):
        report = reconciliation_run(trigger=RunTrigger.COMMAND, actor=command_actor(), dry_run=options["dry_run"])
        self.stdout.write(json.dumps(report, indent=2) if options["json"] else report_text(report))
        code = EXIT_CODES[report["outcome"]]
        if code:
            raise SystemExit(code)
