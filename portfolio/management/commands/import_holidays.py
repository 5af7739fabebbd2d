"""``manage.py import_holidays FILE [--dry-run]``: load exchange trading holidays from a CSV.

Columns ``exchange,date,description[,closed]`` (format in portfolio/holiday_csv.py).  Importing the
same file again changes nothing.  Any bad line is reported with its line number and nothing at all is
imported (exit code 1).
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from core.commands import command_actor
from portfolio.calendar_services import holidays_import
from portfolio.holiday_csv import HolidayCsvError


class Command(BaseCommand):
    help = "Import exchange trading holidays from a CSV file (exchange,date,description[,closed])."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file; '-' reads standard input")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args, file: str, dry_run: bool, **options):
        text = self._read(file)
        try:
            report = holidays_import(text=text, actor=command_actor(), source=file, dry_run=dry_run)
        except HolidayCsvError as exc:
            for line, message in exc.errors:
                self.stderr.write(f"{file}:{line}: {message}" if line else f"{file}: {message}")
            raise CommandError(f"{len(exc.errors)} problem(s) in {file}; nothing was imported") from None
        for label, rows in (("created", report.created), ("updated", report.updated)):
            for row in rows:
                self.stdout.write(f"{label}: {row.exchange} {row.date} {row.closed} {row.description}")
        prefix = "Dry run, nothing written: would be " if dry_run else "Holidays imported: "
        self.stdout.write(prefix + report.summary())

    @staticmethod
    def _read(file: str) -> str:
        try:
            if file == "-":
                return sys.stdin.read()
            with open(file, encoding="utf-8-sig", newline="") as handle:
                return handle.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
