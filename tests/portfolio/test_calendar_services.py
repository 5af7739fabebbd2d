"""Importing holidays (service and ``manage.py import_holidays``): idempotent, audited, all or nothing."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from core.models import OpsAuditLog
from portfolio.calendar_services import calendar_entry_save, holidays_import
from portfolio.holiday_csv import HolidayCsvError
from portfolio.models import ExchangeSession, Holiday

pytestmark = pytest.mark.django_db

GOOD = """exchange,date,description,closed
NFO,2027-01-26,Republic Day
MCX,2027-01-26,Republic Day,full
MCX,2027-03-22,Holi,morning
MCX,2027-01-01,New Year Day,evening
"""
# Lines 3, 5 and 6 are bad; lines 2 and 4 are fine but must not be imported either.
MALFORMED = """exchange,date,description
NFO,2027-01-26,Republic Day
NFO,2027/03/22,Holi
MCX,2027-03-22,Holi,morning
BSE,2027-04-14,Ambedkar Jayanti
NFO,2027-01-26,Republic Day again
"""


def _snapshot():
    return sorted(Holiday.objects.values_list("exchange", "date", "description", "closed"))


def test_an_import_creates_the_rows_and_is_audited():
    report = holidays_import(text=GOOD, actor="ops", source="nse-2027.csv")
    assert report.summary() == "4 created, 0 updated, 0 unchanged"
    assert Holiday.objects.get(exchange="MCX", date=date(2027, 3, 22)).closed == "morning"
    assert Holiday.objects.get(exchange="MCX", date=date(2027, 1, 1)).closed == "evening"
    audit = OpsAuditLog.objects.get(action="holidays_import")
    assert audit.actor == "ops" and audit.details["source"] == "nse-2027.csv"
    assert "NFO 2027-01-26 full" in audit.details["created"]


def test_importing_the_same_file_again_changes_nothing():
    holidays_import(text=GOOD, actor="ops")
    before = _snapshot()
    report = holidays_import(text=GOOD, actor="ops")
    assert report.summary() == "0 created, 0 updated, 4 unchanged" and _snapshot() == before


def test_a_later_list_updates_descriptions_and_closures_in_place():
    holidays_import(text=GOOD, actor="ops")
    report = holidays_import(text="MCX,2027-03-22,Holi (revised),full\n", actor="ops")
    assert [r.date for r in report.updated] == [date(2027, 3, 22)]
    row = Holiday.objects.get(exchange="MCX", date=date(2027, 3, 22))
    assert (row.description, row.closed) == ("Holi (revised)", "full")


def test_a_malformed_file_changes_nothing_and_names_every_bad_line():
    before, audits = _snapshot(), OpsAuditLog.objects.count()
    with pytest.raises(HolidayCsvError) as caught:
        holidays_import(text=MALFORMED, actor="ops")
    assert [line for line, _ in caught.value.errors] == [3, 5, 6]
    assert _snapshot() == before and OpsAuditLog.objects.count() == audits


def test_a_dry_run_reports_and_writes_nothing():
    before = _snapshot()
    report = holidays_import(text=GOOD, actor="ops", dry_run=True)
    assert len(report.created) == 4 and _snapshot() == before
    assert not OpsAuditLog.objects.filter(action="holidays_import").exists()


def test_partial_closures_follow_the_stored_sessions():
    ExchangeSession.objects.filter(exchange="MCX").update(evening_opens=None)  # ops: MCX has one session now
    with pytest.raises(HolidayCsvError, match="MCX has a single session"):
        holidays_import(text="MCX,2027-03-22,Holi,morning\n", actor="ops")


def test_calendar_edits_are_validated_and_audited():
    session = ExchangeSession.objects.get(exchange="NFO")
    session.closes = session.opens
    with pytest.raises(ValidationError, match="after the opening time"):
        calendar_entry_save(entry=session, actor="ops", changed=["closes"])
    session.refresh_from_db()
    session.closes = session.closes.replace(minute=45)
    calendar_entry_save(entry=session, actor="ops", changed=["closes"])
    audit = OpsAuditLog.objects.get(action="exchange_session_save")
    assert (audit.actor, audit.target_id, audit.details) == ("ops", "NFO", {"changed": ["closes"]})


# ------------------------------------------------------------------ manage.py import_holidays


def test_the_command_imports_a_file(tmp_path):
    path = tmp_path / "holidays.csv"
    path.write_text(GOOD, encoding="utf-8")
    out = StringIO()
    call_command("import_holidays", str(path), stdout=out)
    assert "Holidays imported: 4 created, 0 updated, 0 unchanged" in out.getvalue()
    assert "created: MCX 2027-03-22 morning Holi" in out.getvalue()
    out = StringIO()
    call_command("import_holidays", str(path), stdout=out)  # idempotent
    assert "0 created, 0 updated, 4 unchanged" in out.getvalue()
    assert OpsAuditLog.objects.filter(action="holidays_import", actor__startswith="command").count() == 2


def test_the_command_refuses_a_malformed_file_naming_the_lines(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(MALFORMED, encoding="utf-8")
    before = _snapshot()
    err = StringIO()
    with pytest.raises(CommandError, match="3 problem\\(s\\) in .*bad.csv; nothing was imported"):
        call_command("import_holidays", str(path), stderr=err)
    lines = err.getvalue().splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "5", "6"]
    assert "date must be YYYY-MM-DD, got '2027/03/22'" in lines[0]
    assert "already listed on line 2" in lines[2]
    assert _snapshot() == before


def test_the_command_dry_run_and_unreadable_files(tmp_path):
    path = tmp_path / "holidays.csv"
    path.write_text("\ufeff" + GOOD, encoding="utf-8")  # a BOM, as spreadsheets write it
    out = StringIO()
    call_command("import_holidays", str(path), "--dry-run", stdout=out)
    assert "Dry run, nothing written: would be 4 created" in out.getvalue()
    assert not Holiday.objects.filter(date__year=2027).exists()
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_holidays", str(tmp_path / "missing.csv"))
    (tmp_path / "latin1.csv").write_bytes("NFO,2027-01-26,Caf\xe9\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_holidays", str(tmp_path / "latin1.csv"))
