"""Parsing holiday CSV files (portfolio/holiday_csv.py): every bad line is named, by number."""

from __future__ import annotations

from datetime import date

import pytest

from portfolio.holiday_csv import HolidayCsvError, HolidayRow, parse_holidays_csv

EXCHANGES = ("NFO", "MCX")


def parse(text: str) -> list[HolidayRow]:
    return parse_holidays_csv(text, exchanges=EXCHANGES, partial_ok={"MCX"})


def errors_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(HolidayCsvError) as caught:
        parse(text)
    return caught.value.errors


def test_the_published_format_with_a_header_parses():
    rows = parse("exchange,date,description\n"
                 "NFO,2027-01-26,Republic Day\n"
                 "mcx,2027-03-22,\"Holi, day two\",morning\n"
                 "\n"
                 "# comments and blank lines are skipped\n"
                 "MCX,2027-01-01,New Year Day,EVENING\n")
    assert rows == [
        HolidayRow(line=2, exchange="NFO", date=date(2027, 1, 26), description="Republic Day", closed="full"),
        HolidayRow(line=3, exchange="MCX", date=date(2027, 3, 22), description="Holi, day two", closed="morning"),
        HolidayRow(line=6, exchange="MCX", date=date(2027, 1, 1), description="New Year Day", closed="evening"),
    ]


def test_a_header_is_optional_and_may_name_the_closed_column():
    assert parse("NFO,2027-01-26,Republic Day")[0].line == 1
    assert parse("Exchange,Date,Description,Closed\nMCX,2027-01-26,Republic Day,full\n")[0].closed == "full"


def test_every_bad_line_is_reported_with_its_number():
    errors = errors_of("exchange,date,description\n"
                       "NFO,2027-01-26,Republic Day\n"
                       "NYSE,2027-01-27,Not ours\n"
                       "NFO,26/01/2027,Wrong date format\n"
                       "NFO,2027-02-30,No such day\n"
                       "NFO,2027-03-01\n"
                       "MCX,2027-03-02,Holi,afternoon\n"
                       "NFO,2027-03-03,Holi,morning\n"
                       "NFO,2027-01-26,Listed twice\n"
                       f"NFO,2027-04-01,{'x' * 121}\n"
                       "NFO,2027-04-02,a,full,extra\n")
    lines = [line for line, _ in errors]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    text = dict(errors)
    assert "exchange must be one of MCX, NFO" in text[3]
    assert "YYYY-MM-DD" in text[4] and "YYYY-MM-DD" in text[5]
    assert "expected 3 or 4 columns" in text[6] and "got 2" in text[6]
    assert "closed must be one of full, morning, evening" in text[7]
    assert "NFO has a single session" in text[8]
    assert "already listed on line 2" in text[9]
    assert "at most 120 characters" in text[10]
    assert "got 5" in text[11]


def test_one_line_may_have_several_problems():
    errors = errors_of("LSE,2027-13-01,x,sometimes\n")
    assert [line for line, _ in errors] == [1, 1, 1]


def test_an_empty_file_is_an_error():
    assert errors_of("exchange,date,description\n\n") == [(0, "the file lists no holiday")]


def test_the_error_message_names_the_lines():
    with pytest.raises(HolidayCsvError, match=r"line 2: date must be YYYY-MM-DD"):
        parse("NFO,2027-01-26,ok\nNFO,2027-1-27,short date\n")


def test_a_quoted_field_spanning_lines_counts_its_last_line():
    rows = parse('NFO,2027-01-26,"Republic\nDay"\nNFO,2027-03-03,Holi\n')
    assert [(r.line, r.description) for r in rows] == [(2, "Republic\nDay"), (3, "Holi")]
