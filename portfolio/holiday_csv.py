"""Parsing a holiday list (CSV) into rows, or into every problem it has, by line number.  Pure: the
import service (portfolio.calendar_services) decides what to write, and writes nothing unless the
whole file is clean.

Format: ``exchange,date,description[,closed]``, one holiday a line; an optional header line naming
the columns; blank lines and lines starting with ``#`` are skipped.  ``date`` is YYYY-MM-DD;
``closed`` says which part of the day the holiday closes: ``full`` (default when empty or absent),
``morning`` (the evening session trades) or ``evening`` (the morning session trades).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from portfolio.sessions import CLOSURES, FULL

COLUMNS = ("exchange", "date", "description", "closed")
MAX_DESCRIPTION = 120


@dataclass(frozen=True, slots=True)
class HolidayRow:
    line: int
    exchange: str
    date: date
    description: str
    closed: str = FULL


class HolidayCsvError(ValueError):
    """The file has bad lines; ``errors`` lists (line number, message) for every one of them."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"line {line}: {message}" for line, message in errors))


def _is_header(cells: list[str]) -> bool:
    return [c.lower() for c in cells[:3]] == list(COLUMNS[:3])


def _row(line: int, cells: list[str], *, exchanges: Collection[str], partial_ok: Collection[str],
         errors: list[tuple[int, str]]) -> HolidayRow | None:
    if not 3 <= len(cells) <= len(COLUMNS):
        errors.append((line, f"expected 3 or 4 columns ({', '.join(COLUMNS)}), got {len(cells)}"))
        return None
    exchange, raw_date, description = cells[0].upper(), cells[1], cells[2]
    closed = (cells[3] if len(cells) > 3 else "").lower() or FULL
    problems = []
    if exchange not in exchanges:
        problems.append(f"exchange must be one of {', '.join(sorted(exchanges))}, got {cells[0]!r}")
    try:
        day = date.fromisoformat(raw_date)
        if len(raw_date) != 10:
            raise ValueError
    except ValueError:
        problems.append(f"date must be YYYY-MM-DD, got {raw_date!r}")
        day = None
    if len(description) > MAX_DESCRIPTION:
        problems.append(f"description must be at most {MAX_DESCRIPTION} characters, got {len(description)}")
    if closed not in CLOSURES:
        problems.append(f"closed must be one of {', '.join(CLOSURES)}, got {cells[3]!r}")
    elif closed != FULL and exchange in exchanges and exchange not in partial_ok:
        problems.append(f"closed={closed}: {exchange} has a single session, so a holiday closes the whole day")
    if problems:
        errors.extend((line, p) for p in problems)
        return None
    return HolidayRow(line=line, exchange=exchange, date=day, description=description, closed=closed)


def parse_holidays_csv(text: str, *, exchanges: Collection[str],
                       partial_ok: Collection[str] = ()) -> list[HolidayRow]:
    """Every holiday of ``text``, or HolidayCsvError listing every bad line (a file with no holiday at
    all is an error too).  ``partial_ok``: exchanges with a morning and an evening session."""
    errors: list[tuple[int, str]] = []
    rows: list[HolidayRow] = []
    seen: dict[tuple[str, date], int] = {}
    reader = csv.reader(io.StringIO(text))
    first = True
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((reader.line_num, f"not valid CSV ({exc})"))
            break
        cells = [c.strip() for c in cells]
        line = reader.line_num
        if not any(cells) or cells[0].startswith("#"):
            continue
        if first and _is_header(cells):
            first = False
            continue
        first = False
        row = _row(line, cells, exchanges=exchanges, partial_ok=partial_ok, errors=errors)
        if row is None:
            continue
        key = (row.exchange, row.date)
        if key in seen:
            errors.append((line, f"{row.exchange} {row.date} is already listed on line {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    if not rows and not errors:
        errors.append((0, "the file lists no holiday"))
    if errors:
        raise HolidayCsvError(errors)
    return rows
