"""``manage.py rollover [--dry-run] [--position ID] [--json]``: roll positions near expiry now.

Without ``--position``: every candidate (fewer than its instrument's ``rollover_days`` calendar days
to expiry) whose exchange is in session, then every rollover already under way — the leader's job
does the same every 15 minutes.  ``--position ID`` rolls that position now, candidate or not (or
drives its rollover under way).  ``--dry-run`` says what would be rolled, and to what, writing
nothing.  Exit code 0 when every rollover touched is done (or there was nothing to do), 1 otherwise.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core.commands import command_actor
from core.services import audit_record
from positions.services.rollover import RolloverRefused
from positions.services.rollover_run import rollover_run

FINE = {"done", "would_roll", "under_way"}


class Command(BaseCommand):
    help = "Roll positions near expiry to their next contract (DESIGN §8)."

    def add_arguments(self, parser):
        parser.add_argument("--position", type=int, help="roll this position now, candidate or not")
        parser.add_argument("--dry-run", action="store_true", help="say what would be rolled; write nothing")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")

    def handle(self, *args, position: int | None, dry_run: bool, as_json: bool, **options):
        actor = command_actor()
        try:
            report = rollover_run(trigger=actor, position_id=position, dry_run=dry_run)
        except RolloverRefused as exc:
            raise CommandError(str(exc)) from None
        if position is not None and not dry_run:
            audit_record(actor=actor, action="rollover_now", target_type="position", target_id=position,
                         note="manage.py rollover --position", details={"report": report})
        self.stdout.write(_as_json(report) if as_json else _as_text(report, dry_run=dry_run))
        if any(entry["outcome"] not in FINE for entry in report):
            raise SystemExit(1)


def _as_json(report: list[dict]) -> str:
    return json.dumps({"rollovers": report}, indent=2, default=str)


def _as_text(report: list[dict], *, dry_run: bool) -> str:
    if not report:
        return "Nothing to roll: no open position is inside its rollover window."
    lines = ["Rollover (dry run: nothing written)" if dry_run else "Rollover"]
    for entry in report:
        head = f"#{entry['position_id']} {entry.get('label', '')}".rstrip()
        change = " → ".join(", ".join(entry[k]) for k in ("old", "new") if entry.get(k))
        extra = "; ".join(f"{k} {entry[k]}" for k in ("reason", "pnl", "retry_at", "error", "next_open")
                          if entry.get(k))
        lines.append(f"  {head}: {entry['outcome'].upper()}  {change}" + (f"  ({extra})" if extra else ""))
    return "\n".join(lines)
