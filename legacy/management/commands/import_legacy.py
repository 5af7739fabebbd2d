"""``manage.py import_legacy --from DATABASE_URL [--dry-run] [--json] [--into-trading-database]``

Reads the legacy PostgreSQL database in a read-only transaction and imports its open positions,
portfolio state, pyramiding state and the last days' signal fingerprints in one transaction (see
``legacy.services``), then reconciles with the configured broker and prints both.

Exit codes: 0 imported (or nothing left to import) and the broker matches; 1 nothing imported
(unmappable legacy rows, a database that already trades, or a conflict); 2 the legacy database could
not be read; 3 imported, but the reconciliation did not match (discrepancies or broker unreadable).
``--dry-run`` prints the full plan and a reconciliation preview (our books plus the plan against the
broker) and writes nothing; its exit code says what the real run would give.  ``--seed-paper-book``
(a shadow instance with the paper broker only) makes the paper broker hold the imported positions.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone

from core.commands import command_actor
from legacy.mapping import IST
from legacy.render import plan_text
from legacy.services import (
    FORCE_FLAG,
    ImportFailed,
    legacy_import_apply,
    legacy_import_plan,
    paper_book_seed,
    reconciliation_preview,
)
from legacy.source import LegacyUnavailable, describe, read_snapshot
from reconciliation.management.commands.reconcile_broker import report_text
from reconciliation.models import RunTrigger
from reconciliation.services.reconcile import reconciliation_run

OK, NOT_IMPORTED, UNREADABLE, NOT_RECONCILED = 0, 1, 2, 3


def refuse_own_database(url: str) -> None:
    """--from must never point at this system's own database."""
    ours = connections["default"].settings_dict
    theirs = describe(url)
    same_host = (theirs["host"] in (ours.get("HOST") or "localhost", "localhost", "127.0.0.1")
                 and theirs["port"] == str(ours.get("PORT") or "5432"))
    if same_host and theirs["dbname"] == ours.get("NAME"):
        raise CommandError(f"--from points at this system's own database {ours.get('NAME')!r}")


class Command(BaseCommand):
    help = "Import open positions, equity, pyramiding and recent signal fingerprints from the legacy database."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="DATABASE_URL",
                            help="the legacy PostgreSQL database (postgres://user:password@host:port/name)")
        parser.add_argument("--dry-run", action="store_true", help="print the full plan; write nothing")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(FORCE_FLAG, dest="force", action="store_true",
                            help="import even though this database already has positions of its own")
        parser.add_argument("--seed-paper-book", action="store_true",
                            help="shadow instances only (BROKER=paper): make the paper broker hold the imported "
                                 "positions before reconciling")
        parser.add_argument("--signal-days", type=int, default=7,
                            help="legacy signals of this many days are recorded as already seen (default 7)")
        parser.add_argument("--legacy-timezone", default=IST,
                            help="time zone of the legacy TIMESTAMP columns (default Asia/Kolkata)")

    def handle(self, *args, **options):
        url, tz, dry_run = options["source"], options["legacy_timezone"], options["dry_run"]
        if options["signal_days"] < 0:
            raise CommandError("--signal-days must be 0 or more")
        if options["seed_paper_book"] and settings.PM_BROKER != "paper":
            raise CommandError("--seed-paper-book is for a shadow instance with BROKER=paper only")
        try:
            refuse_own_database(url)
            snapshot = read_snapshot(url, signals_since=timezone.now() - timedelta(days=options["signal_days"]), tz=tz)
        except LegacyUnavailable as exc:
            self.stderr.write(str(exc))
            raise SystemExit(UNREADABLE) from None
        plan = legacy_import_plan(snapshot=snapshot, force=options["force"], tz=tz)
        output = {"dry_run": dry_run, "plan": plan.as_dict()}
        code, reconciliation = OK, None
        if not plan.applicable:
            output["outcome"], code = "not_imported", NOT_IMPORTED
        elif dry_run:
            reconciliation = reconciliation_preview(plan=plan)
            output["outcome"] = "dry_run"
        else:
            try:
                output["written"] = legacy_import_apply(plan=plan, actor=command_actor())
            except ImportFailed as exc:
                output["outcome"], output["error"], code = "not_imported", str(exc), NOT_IMPORTED
            else:
                output["outcome"] = "imported" if plan.changes else "nothing_to_do"
                if options["seed_paper_book"]:
                    output["paper_book_seeded"] = paper_book_seed()
                reconciliation = reconciliation_run(trigger=RunTrigger.COMMAND, actor=command_actor())
        if reconciliation is not None:
            output["reconciliation"] = reconciliation
            if reconciliation["outcome"] != "matched":
                code = NOT_RECONCILED
        self.stdout.write(json.dumps(output, indent=2, default=str) if options["json"] else self._text(output))
        if code:
            raise SystemExit(code)

    @staticmethod
    def _text(output: dict) -> str:
        lines = [plan_text(output["plan"], dry_run=output["dry_run"]), ""]
        plan, outcome = output["plan"], output["outcome"]
        if outcome == "imported":
            written = output["written"]
            lines.append(f"IMPORTED in one transaction: {len(written['positions'])} position(s), "
                         f"{'an opening balance' if written['opening_balance'] else 'no opening balance'}, "
                         f"{len(written['pyramiding'])} pyramiding state(s), {written['signals']} signal(s).")
        elif outcome == "nothing_to_do":
            lines.append("NOTHING TO DO: everything in the legacy database is already imported; nothing was changed.")
        elif outcome == "dry_run":
            lines.append(f"DRY RUN: {plan['changes']} change(s) would be written; nothing was.")
        else:
            lines.append(f"NOT IMPORTED: {output.get('error') or 'see above'}; nothing was written.")
        for order in output.get("paper_book_seeded", []):
            lines.append(f"Paper book seeded: {order['action']} {order['quantity']} {order['symbol']} "
                         f"@ {order['price']} ({order['order_id']})")
        if "reconciliation" in output:
            report = output["reconciliation"]
            title = "Reconciliation preview (our books plus the plan, against the broker; nothing recorded)" \
                if output["dry_run"] else "Reconciliation against the configured broker"
            lines += ["", f"{title}:", report_text(report)]
            if report.get("planned"):
                lines.append("Planned (negative ids): " + ", ".join(f"#{k} {v}" for k, v in report["planned"].items()))
        return "\n".join(lines)
