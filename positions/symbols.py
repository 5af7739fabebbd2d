"""Broker symbols (Zerodha/OpenAlgo format) and the ATM strike (DESIGN §7).

MCX futures: ``GOLDM05JAN26FUT``.  Bank Nifty options: ``BANKNIFTY30DEC2560000PE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN

from portfolio.params import exact, to_decimal

MONTH_CODES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
OPTION_TYPES = ("PE", "CE")

# Roots are letters only, so the first digit starts the DDMMMYY date; the month is matched against
# the month table, and only after the two year digits does the strike begin.  Domain bug #7: a
# looser pattern read BANKNIFTY27JAN2660000CE as strike 660000.
_SYMBOL = re.compile(
    r"(?P<root>[A-Z]+)"
    r"(?P<day>[0-9]{2})(?P<month>" + "|".join(MONTH_CODES) + r")(?P<year>[0-9]{2})"
    r"(?:(?P<fut>FUT)|(?P<strike>[1-9][0-9]*)(?P<option>PE|CE))"
)


@dataclass(frozen=True, slots=True)
class ParsedSymbol:
    root: str
    expiry: date
    kind: str  # "FUT", "PE" or "CE"
    strike: int | None


def format_expiry(d: date) -> str:
    """``DDMMMYY``, e.g. 05JAN26."""
    return f"{d.day:02d}{MONTH_CODES[d.month - 1]}{d.year % 100:02d}"


def _checked_root(root: str) -> str:
    if not (root.isascii() and root.isalpha() and root.isupper()):
        raise ValueError(f"symbol root must be upper-case letters, got {root!r}")
    return root


def futures_symbol(*, root: str, expiry: date) -> str:
    return f"{_checked_root(root)}{format_expiry(expiry)}FUT"


def option_symbol(*, root: str, expiry: date, strike: int, option_type: str) -> str:
    if option_type not in OPTION_TYPES:
        raise ValueError(f"option_type must be PE or CE, got {option_type!r}")
    if isinstance(strike, bool) or not isinstance(strike, int) or strike <= 0:
        raise ValueError(f"strike must be a positive int, got {strike!r}")
    return f"{_checked_root(root)}{format_expiry(expiry)}{strike}{option_type}"


def parse_symbol(text: str) -> ParsedSymbol:
    """Split a broker symbol into root, expiry date, kind and strike; ValueError if it is not one."""
    match = _SYMBOL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a futures or option symbol: {text!r}")
    month = MONTH_CODES.index(match["month"]) + 1
    expiry = date(2000 + int(match["year"]), month, int(match["day"]))  # ValueError for 31FEB26
    if match["fut"]:
        return ParsedSymbol(root=match["root"], expiry=expiry, kind="FUT", strike=None)
    return ParsedSymbol(root=match["root"], expiry=expiry, kind=match["option"], strike=int(match["strike"]))


@exact
def atm_strike(*, price, step: int = 500) -> int:
    """Nearest multiple of ``step``; an exact tie goes to the multiple of 2 × step.

    Rounding price / step half-to-even does exactly that: the even neighbour is the 2 × step multiple.
    """
    price = to_decimal(price)
    if price <= 0 or step <= 0:
        raise ValueError(f"price and step must be positive (price={price}, step={step})")
    return int((price / step).to_integral_value(rounding=ROUND_HALF_EVEN)) * step
