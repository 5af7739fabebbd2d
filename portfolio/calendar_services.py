"""Writers of the market calendar: exchange sessions, holidays (one by one and imported from CSV) and
special sessions.  Each change is audited (core.services.audit_record); the import is all or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from core.services import audit_record
from portfolio.holiday_csv import HolidayRow, parse_holidays_csv
from portfolio.models import Exchange, ExchangeSession, Holiday, SpecialSession
from portfolio.sessions import DEFAULT_RULES


@dataclass
class HolidayImport:
    """What an import did: rows created, changed (description or closure) and already as listed."""

    created: list[HolidayRow] = field(default_factory=list)
    updated: list[HolidayRow] = field(default_factory=list)
    unchanged: list[HolidayRow] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


def exchanges_with_two_sessions() -> set[str]:
    """Exchanges whose session has a morning and an evening part (partial holidays make sense there)."""
    rows = dict(ExchangeSession.objects.values_list("exchange", "evening_opens"))
    return {code for code in Exchange.values
            if (rows[code] if code in rows else getattr(DEFAULT_RULES.get(code), "evening_opens", None))}


def holidays_parse(*, text: str) -> list[HolidayRow]:
    """The rows of a holiday CSV, or HolidayCsvError naming every bad line."""
    return parse_holidays_csv(text, exchanges=Exchange.values, partial_ok=exchanges_with_two_sessions())


@transaction.atomic
def holidays_import(*, text: str, actor: str, source: str = "", dry_run: bool = False) -> HolidayImport:
    """Import a holiday CSV: every row is created or brought up to date (idempotent: a second import of
    the same file changes nothing); a file with any bad line raises HolidayCsvError and writes nothing.
    ``dry_run`` reports what would change and writes nothing."""
    rows = holidays_parse(text=text)
    report = HolidayImport()
    existing = {(h.exchange, h.date): h for h in Holiday.objects.select_for_update().filter(
        exchange__in={r.exchange for r in rows}, date__in={r.date for r in rows})}
    for row in rows:
        current = existing.get((row.exchange, row.date))
        if current is None:
            Holiday.objects.create(exchange=row.exchange, date=row.date, description=row.description,
                                   closed=row.closed)
            report.created.append(row)
        elif (current.description, current.closed) != (row.description, row.closed):
            current.description, current.closed = row.description, row.closed
            current.save(update_fields=["description", "closed"])
            report.updated.append(row)
        else:
            report.unchanged.append(row)
    if dry_run:
        transaction.set_rollback(True)
        return report
    audit_record(actor=actor, action="holidays_import", target_type="holiday", note=report.summary(),
                 details={"source": source[:200], "created": [_key(r) for r in report.created],
                          "updated": [_key(r) for r in report.updated], "unchanged": len(report.unchanged)})
    return report


def _key(row: HolidayRow) -> str:
    return f"{row.exchange} {row.date.isoformat()} {row.closed}"


_AUDITED = {ExchangeSession: "exchange_session", Holiday: "holiday", SpecialSession: "special_session"}


@transaction.atomic
def calendar_entry_save(*, entry: ExchangeSession | Holiday | SpecialSession, actor: str,
                        changed: list[str] | None = None) -> None:
    """Save a session, holiday or special session edited in admin (already validated), and audit it."""
    entry.full_clean()
    entry.save()
    audit_record(actor=actor, action=f"{_AUDITED[type(entry)]}_save", target_type=_AUDITED[type(entry)],
                 target_id=str(entry.pk), note=str(entry)[:200], details={"changed": changed or []})


@transaction.atomic
def calendar_entry_delete(*, entry: ExchangeSession | Holiday | SpecialSession, actor: str) -> None:
    label, pk = str(entry)[:200], entry.pk
    entry.delete()
    audit_record(actor=actor, action=f"{_AUDITED[type(entry)]}_delete", target_type=_AUDITED[type(entry)],
                 target_id=str(pk), note=label)
