"""Legacy expiry text → a date (legacy/expiry.py), without a database."""

from __future__ import annotations

from datetime import date

import pytest

from legacy.expiry import ExpiryError, parse_contract_month, parse_expiry, readings

NOV_16 = date(2026, 11, 16)


def test_the_seven_character_form_reads_both_ways():
    assert [(r.form, r.value) for r in readings("29DEC26")] == [
        ("DDMMMYY", date(2026, 12, 29)), ("YYMONDD", date(2029, 12, 26))]


@pytest.mark.parametrize(("text", "expected", "form"), [
    ("29DEC26", date(2026, 12, 29), "DDMMMYY"),  # what the entry path and the symbols wrote
    ("26DEC29", date(2026, 12, 29), "YYMONDD"),  # what the rollover scanner expected (bug #31)
    ("2026-12-29", date(2026, 12, 29), "YYYY-MM-DD"),
    ("2026-12-29 00:00:00", date(2026, 12, 29), "YYYY-MM-DD"),
    ("29-Dec-2026", date(2026, 12, 29), "DD-MMM-YYYY"),
    ("29DEC2026", date(2026, 12, 29), "DD-MMM-YYYY"),
    ("29-DEC-26", date(2026, 12, 29), "DD-MMM-YY"),
    (" 29dec26 ", date(2026, 12, 29), "DDMMMYY"),
])
def test_every_format_the_legacy_system_wrote_gives_the_same_date(text, expected, form):
    reading = parse_expiry(text, opened_on=NOV_16)
    assert (reading.value, reading.form) == (expected, form)


def test_the_entry_date_tells_the_two_readings_apart():
    # 05JAN27 as YYMONDD would be 2005-01-27, before the entry; 27JAN05 as DDMMMYY 2005-01-27 too.
    assert parse_expiry("05JAN27", opened_on=date(2026, 11, 9)).value == date(2027, 1, 5)
    assert parse_expiry("27JAN05", opened_on=date(2026, 11, 13)).value == date(2027, 1, 5)


def test_a_reading_too_far_from_the_entry_is_refused_with_both_readings_named():
    # Bug #31: read the other way, 27JAN26 is a year away (1827 days in the legacy scanner's case).
    with pytest.raises(ExpiryError, match=r"DDMMMYY → 2026-01-27, YYMONDD → 2027-01-26"):
        parse_expiry("27JAN26", opened_on=date(2026, 3, 2))


def test_the_instrument_rule_drops_a_reading_no_contract_can_have():
    last_tuesday = {date(2026, 12, 29), date(2027, 1, 26)}.__contains__
    assert parse_expiry("29DEC26", opened_on=None, fits=last_tuesday).value == date(2026, 12, 29)
    with pytest.raises(ExpiryError, match="not a last_tuesday expiry"):
        parse_expiry("2026-12-30", opened_on=NOV_16, fits=last_tuesday, rule="last_tuesday")
    # Within the window both readings of 27JAN26 would do; only the rule (here: Jan-2027) decides.
    assert parse_expiry("27JAN26", opened_on=NOV_16, fits=last_tuesday).form == "YYMONDD"


def test_an_impossible_day_leaves_only_the_other_reading():
    with pytest.raises(ExpiryError, match="2031-02-26"):  # 31FEB26 exists only as YYMONDD
        parse_expiry("31FEB26", opened_on=NOV_16)


def test_without_an_entry_date_two_readings_are_ambiguous():
    with pytest.raises(ExpiryError, match="ambiguous"):
        parse_expiry("29DEC26", opened_on=None)
    assert parse_expiry("2026-12-29", opened_on=None).value == date(2026, 12, 29)
    assert parse_expiry("26DEC26", opened_on=None).value == date(2026, 12, 26)  # both readings agree


@pytest.mark.parametrize("text", ["", "NEXTMONTH", "2026/12/29", "29XYZ26", "12-29-2026"])
def test_text_in_no_known_format_is_refused(text):
    with pytest.raises(ExpiryError, match="no format"):
        parse_expiry(text, opened_on=NOV_16)


def test_contract_month():
    assert parse_contract_month("JAN27") == (2027, 1)
    assert parse_contract_month("dec-2026") == (2026, 12)
    with pytest.raises(ExpiryError):
        parse_contract_month("27JAN")
