"""Contract expiries as the legacy system stored them (text) → dates (DESIGN §8: dates, never strings).

The legacy system wrote expiries as text in more than one format (domain-notes §7 and bugs #28, #31):

* ``DDMMMYY`` (``27JAN26``): the entry path and the broker symbols;
* ``YYMONDD`` (``26JAN27``): what its rollover scanner parsed (and its rollover code produced), so a
  ``DDMMMYY`` value read that way came out a year or more off;
* ISO ``YYYY-MM-DD`` (manual fixes and later migrations), ``DDMMMYYYY`` / ``DD-MMM-YYYY`` (hand-typed);
* ``contract_month`` ``MMMYY`` (``DEC25``) on MCX rows, meaning the instrument's expiry in that month.

The two seven-character forms have the same shape, so ``27JAN26`` may be 2026-01-27 or 2027-01-26.
A reading is kept only when it is a plausible expiry for the position: a date the instrument's
expiry rule can produce (when the caller says which), on or after the day the position was opened
and within ``HORIZON_DAYS`` of it (an entry trades the near or the next contract; the legacy
system never persisted a rollover, bug #34, so a stored expiry is always the entry contract's).  Zero
or several plausible readings are an error that names them: the caller reports the row rather than
guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
HORIZON_DAYS = 120

_ISO = re.compile(r"(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?")
_SEVEN = re.compile(r"(?P<a>\d{2})(?P<mon>[A-Z]{3})(?P<b>\d{2})")
_LONG_YEAR = re.compile(r"(?P<d>\d{1,2})[- ]?(?P<mon>[A-Z]{3})[- ]?(?P<y>\d{4})")
_DASHED_SHORT = re.compile(r"(?P<d>\d{1,2})-(?P<mon>[A-Z]{3})-(?P<y>\d{2})")
_CONTRACT_MONTH = re.compile(r"(?P<mon>[A-Z]{3})[- ]?(?P<y>\d{2}|\d{4})")


class ExpiryError(ValueError):
    """The text cannot be read as exactly one plausible expiry; the message says why."""


@dataclass(frozen=True, slots=True)
class Reading:
    value: date
    form: str  # which format it was read as, e.g. "DDMMMYY"


def _month(code: str) -> int | None:
    return MONTHS.index(code) + 1 if code in MONTHS else None


def _date(year: int, month: int | None, day: int) -> date | None:
    if month is None:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def readings(text: str) -> list[Reading]:
    """Every date ``text`` can mean in the formats above (before any plausibility check)."""
    text = (text or "").strip().upper()
    found: list[Reading] = []
    if match := _ISO.fullmatch(text):
        found.append(Reading(_date(int(match["y"]), int(match["m"]), int(match["d"])), "YYYY-MM-DD"))
    elif match := _SEVEN.fullmatch(text):
        month = _month(match["mon"])
        found.append(Reading(_date(2000 + int(match["b"]), month, int(match["a"])), "DDMMMYY"))
        found.append(Reading(_date(2000 + int(match["a"]), month, int(match["b"])), "YYMONDD"))
    elif match := _LONG_YEAR.fullmatch(text):
        found.append(Reading(_date(int(match["y"]), _month(match["mon"]), int(match["d"])), "DD-MMM-YYYY"))
    elif match := _DASHED_SHORT.fullmatch(text):
        found.append(Reading(_date(2000 + int(match["y"]), _month(match["mon"]), int(match["d"])), "DD-MMM-YY"))
    return [r for r in found if r.value is not None]


def plausible(value: date, *, opened_on: date | None, horizon_days: int = HORIZON_DAYS) -> bool:
    if opened_on is None:
        return True
    return opened_on <= value <= opened_on + timedelta(days=horizon_days)


def parse_expiry(text: str, *, opened_on: date | None, horizon_days: int = HORIZON_DAYS,
                 fits: Callable[[date], bool] | None = None, rule: str = "") -> Reading:
    """The one plausible expiry ``text`` stands for, or ExpiryError naming the readings it tried.

    ``fits`` (with its ``rule`` name for messages) says whether a date can be an expiry of the
    instrument at all (its expiry rule, give or take an exchange holiday): a reading that cannot is
    dropped too.
    """
    candidates = readings(text)
    if not candidates:
        raise ExpiryError(f"expiry {text!r} is in no format the legacy system wrote "
                          "(DDMMMYY, YYMONDD, YYYY-MM-DD, DD-MMM-YYYY)")
    kept = [r for r in candidates if plausible(r.value, opened_on=opened_on, horizon_days=horizon_days)]
    tried = ", ".join(f"{r.form} → {r.value.isoformat()}" for r in candidates)
    if not kept:
        raise ExpiryError(f"expiry {text!r} ({tried}) is not within {horizon_days} days after the entry on "
                          f"{opened_on.isoformat() if opened_on else '?'}")
    if fits is not None:
        kept = [r for r in kept if fits(r.value)]
        if not kept:
            raise ExpiryError(f"expiry {text!r} ({tried}) is not a {rule or 'valid'} expiry of the instrument")
    if len({r.value for r in kept}) > 1:
        raise ExpiryError(f"expiry {text!r} is ambiguous ({tried}): neither the entry date nor the expiry rule "
                          "tells them apart")
    return kept[0]


def parse_contract_month(text: str) -> tuple[int, int]:
    """``DEC25`` / ``DEC-2025`` → (2025, 12); ExpiryError otherwise."""
    match = _CONTRACT_MONTH.fullmatch((text or "").strip().upper())
    month = _month(match["mon"]) if match else None
    if month is None:
        raise ExpiryError(f"contract month {text!r} is not MMMYY (e.g. DEC25)")
    year = int(match["y"])
    return (year if year > 99 else 2000 + year), month
