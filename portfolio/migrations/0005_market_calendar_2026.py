"""Seed the exchange sessions and the published 2026 trading holidays and special sessions.

Sessions (IST; editable in admin afterwards): NSE F&O (NFO) 09:15–15:30.  MCX 09:00–23:55, closing at
23:30 while the US observes daylight saving time (MCX revises its close twice a year on that account,
e.g. circular MCX/TRD/675/2023: 23:55 from 6 Nov 2023); the evening session starts at 17:00.

NSE F&O (NFO) holidays — from NSE's circulars, seen through an index of NSE's circular feed (the PDFs
themselves were not opened here; check against them when convenient):
* NSE/FAOP/71777, Circular Ref. No. 212/2025, 12 Dec 2025, "Trading holidays for the calendar year
  2026" (https://nsearchives.nseindia.com/content/circulars/FAOP71777.pdf): 15 weekday and 4 weekend
  holidays;
* NSE/FAOP/72262, 12 Jan 2026, adding 15 Jan 2026 (Municipal Corporation Election in Maharashtra)
  (https://nsearchives.nseindia.com/content/circulars/FAOP72262.pdf);
* NSE/FAOP/72352, 16 Jan 2026: live trading session on Sunday 1 Feb 2026 (Union Budget), 09:15–15:30;
* the Muhurat session of Sunday 8 Nov 2026 is announced by NSE/FAOP/71777 with timings "notified
  subsequently": recorded with its times empty (it changes nothing until someone enters them).

MCX holidays — NOT from MCX's own circular, which was not found: from secondary sources quoting
MCX's circular (CNBC Awaaz / News18 of 30 Dec 2025, Rupeezy, goldsilverreports, reports from the
days themselves), cross-checked against BSE's commodity-segment circular of 15 Dec 2025 (notice
20251215-5), which has the same dates and the same session split.  MCX closes the whole day, only
its morning session (the evening session trades), or — on 1 Jan 2026 — only its evening session.
15 Jan 2026 (morning closed) was added by an MCX circular of 12 Jan 2026 as reported by ScanX and
Geojit.  The special session of Sunday 1 Feb 2026, 09:00–17:00 (no evening session), is from an MCX
circular of 16 Jan 2026 as reported (Business Upturn; timings per 5paisa, WION, Angel One).

Settlement holidays are not trading holidays and are left out.  Exchanges add and move holidays
during the year: later changes go in through admin or ``manage.py import_holidays``.
"""

from datetime import date, time

from django.db import migrations

SESSIONS = [
    dict(exchange="NFO", opens=time(9, 15), closes=time(15, 30), closes_us_dst=None, evening_opens=None),
    dict(exchange="MCX", opens=time(9, 0), closes=time(23, 55), closes_us_dst=time(23, 30),
         evening_opens=time(17, 0)),
]

NFO_2026 = [
    ("2026-01-15", "Municipal Corporation Election in Maharashtra (NSE/FAOP/72262 of 12 Jan 2026)"),
    ("2026-01-26", "Republic Day"),
    ("2026-03-03", "Holi"),
    ("2026-03-26", "Shri Ram Navami"),
    ("2026-03-31", "Shri Mahavir Jayanti"),
    ("2026-04-03", "Good Friday"),
    ("2026-04-14", "Dr. Baba Saheb Ambedkar Jayanti"),
    ("2026-05-01", "Maharashtra Day"),
    ("2026-05-28", "Bakri Id"),
    ("2026-06-26", "Muharram"),
    ("2026-09-14", "Ganesh Chaturthi"),
    ("2026-10-02", "Mahatma Gandhi Jayanti"),
    ("2026-10-20", "Dussehra"),
    ("2026-11-10", "Diwali-Balipratipada"),
    ("2026-11-24", "Prakash Gurpurb Sri Guru Nanak Dev"),
    ("2026-12-25", "Christmas"),
    ("2026-02-15", "Mahashivratri (Sunday)"),
    ("2026-03-21", "Id-Ul-Fitr (Ramadan Eid) (Saturday)"),
    ("2026-08-15", "Independence Day (Saturday)"),
    ("2026-11-08", "Diwali Laxmi Pujan (Sunday; Muhurat trading session)"),
]

# (date, description, closed): "full" whole day, "morning" morning closed / evening open,
# "evening" evening closed / morning open.
MCX_2026 = [
    ("2026-01-01", "New Year Day", "evening"),
    ("2026-01-15", "Municipal Corporation Election in Maharashtra (MCX circular of 12 Jan 2026, as reported)",
     "morning"),
    ("2026-01-26", "Republic Day", "full"),
    ("2026-03-03", "Holi", "morning"),
    ("2026-03-26", "Shri Ram Navmi", "morning"),
    ("2026-03-31", "Shri Mahavir Jayanti", "morning"),
    ("2026-04-03", "Good Friday", "full"),
    ("2026-04-14", "Dr. Baba Saheb Ambedkar Jayanti", "morning"),
    ("2026-05-01", "Maharashtra Day", "morning"),
    ("2026-05-28", "Bakri Id", "morning"),
    ("2026-06-26", "Moharram", "morning"),
    ("2026-09-14", "Ganesh Chaturthi", "morning"),
    ("2026-10-02", "Mahatma Gandhi Jayanti", "full"),
    ("2026-10-20", "Dussehra", "morning"),
    ("2026-11-10", "Diwali-Balipratipada", "morning"),
    ("2026-11-24", "Guru Nanak Jayanti", "morning"),
    ("2026-12-25", "Christmas", "full"),
    ("2026-02-15", "Mahashivratri (Sunday)", "full"),
    ("2026-03-21", "Id-Ul-Fitr (Ramzan Id) (Saturday)", "full"),
    ("2026-08-15", "Independence Day (Saturday)", "full"),
    ("2026-11-08", "Diwali Laxmi Pujan (Sunday; Muhurat trading session)", "full"),
]

SPECIAL_2026 = [
    dict(exchange="NFO", date="2026-02-01", opens=time(9, 15), closes=time(15, 30),
         description="Union Budget: live trading session on a Sunday (NSE/FAOP/72352 of 16 Jan 2026)"),
    dict(exchange="MCX", date="2026-02-01", opens=time(9, 0), closes=time(17, 0),
         description="Union Budget: special live session on a Sunday, no evening session (MCX circular of "
                     "16 Jan 2026, as reported)"),
    dict(exchange="NFO", date="2026-11-08", opens=None, closes=None,
         description="Muhurat trading (timings to be notified, per NSE/FAOP/71777)"),
    dict(exchange="MCX", date="2026-11-08", opens=None, closes=None,
         description="Muhurat trading (timings not found)"),
]


def _holidays():
    yield from (("NFO", day, text, "full") for day, text in NFO_2026)
    yield from (("MCX", day, text, closed) for day, text, closed in MCX_2026)


def seed(apps, schema_editor):
    ExchangeSession = apps.get_model("portfolio", "ExchangeSession")
    Holiday = apps.get_model("portfolio", "Holiday")
    SpecialSession = apps.get_model("portfolio", "SpecialSession")
    for values in SESSIONS:
        ExchangeSession.objects.get_or_create(exchange=values["exchange"], defaults=values)
    for exchange, day, text, closed in _holidays():
        row, created = Holiday.objects.get_or_create(
            exchange=exchange, date=date.fromisoformat(day), defaults={"description": text, "closed": closed})
        if not created and row.closed != closed:
            # A row typed in before this migration: keep its words; ``closed`` is new, so it holds only the
            # default, not a decision anyone made.
            row.closed = closed
            row.save(update_fields=["closed"])
    for values in SPECIAL_2026:
        SpecialSession.objects.get_or_create(exchange=values["exchange"], date=date.fromisoformat(values["date"]),
                                             defaults={k: values[k] for k in ("opens", "closes", "description")})


def unseed(apps, schema_editor):
    ExchangeSession = apps.get_model("portfolio", "ExchangeSession")
    Holiday = apps.get_model("portfolio", "Holiday")
    SpecialSession = apps.get_model("portfolio", "SpecialSession")
    ExchangeSession.objects.filter(exchange__in=[s["exchange"] for s in SESSIONS]).delete()
    for exchange, day, _text, _closed in _holidays():
        Holiday.objects.filter(exchange=exchange, date=date.fromisoformat(day)).delete()
    for values in SPECIAL_2026:
        SpecialSession.objects.filter(exchange=values["exchange"], date=date.fromisoformat(values["date"])).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0004_market_calendar")]

    operations = [migrations.RunPython(seed, unseed)]
