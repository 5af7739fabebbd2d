"""``manage.py compare_legacy --from DATABASE_URL --since DATE [--json]``: the shadow run's report.

Signal by signal (BASE_ENTRY, PYRAMID, EXIT since DATE, matched by our fingerprint), the legacy
outcome against ours: executed / blocked / rejected, lots and limiter, stop, exits; each difference
with the rule that decided it and, when it matches one, the legacy bug (domain-notes §12).

Exit codes: 0 every signal matched; 1 at least one difference; 2 the legacy database could not be read.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from legacy.compare import summarise
from legacy.mapping import IST
from legacy.render import comparison_text
from legacy.selectors import shadow_comparison
from legacy.source import LegacyUnavailable, read_history


class Command(BaseCommand):
    help = "Compare the legacy system's outcomes with ours, signal by signal (exit 1 when they differ)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="DATABASE_URL")
        parser.add_argument("--since", required=True, metavar="DATE", help="YYYY-MM-DD (midnight, legacy time zone)")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--legacy-timezone", default=IST)

    def handle(self, *args, **options):
        tz = options["legacy_timezone"]
        try:
            since = datetime.combine(date.fromisoformat(options["since"]), datetime.min.time(), ZoneInfo(tz))
        except ValueError:
            raise CommandError(f"--since must be a date YYYY-MM-DD, got {options['since']!r}") from None
        try:
            history = read_history(options["source"], since=since, tz=tz)
        except LegacyUnavailable as exc:
            self.stderr.write(str(exc))
            raise SystemExit(2) from None
        comparisons, errors = shadow_comparison(history=history, since=since, tz=tz)
        if options["json"]:
            self.stdout.write(json.dumps({
                "since": since.isoformat(), "legacy_database": history.database, "summary": summarise(comparisons),
                "signals": [c.as_dict() for c in comparisons], "errors": [e.as_dict() for e in errors],
            }, indent=2))
        else:
            self.stdout.write(comparison_text(comparisons, errors, database=history.database, since=since.isoformat()))
        if any(not c.matched for c in comparisons) or errors:
            raise SystemExit(1)
