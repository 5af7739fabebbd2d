"""Readable numbers for people: the one place that decides how money, prices, percentages, times and
ages look in the back office and the cockpit.  Pure (no database, no settings), so it is unit-tested on
its own; the template filters (``core/templatetags/pm_format.py``) and the admin column helpers
(``core.admin``) call it.

* money: rupees with Indian digit grouping (lakh and crore): ``₹50,00,000.00``, ``-₹12,000.00``;
* prices: to the instrument's tick (rounded to a multiple of it, shown with its decimals);
* timestamps: in IST with the zone shown, ``12 Jan 2026 10:00:00 IST``;
* P&L: a sign class (``pnl-pos`` / ``pnl-neg`` / ``pnl-zero``) the templates colour.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
DASH = "—"
# strftime and Django's date-format language for the same rendering (core/formats/en/formats.py).
TIMESTAMP_FORMAT = "%d %b %Y %H:%M:%S %Z"
DJANGO_DATETIME_FORMAT = "d M Y H:i:s T"
DJANGO_SHORT_DATETIME_FORMAT = "d M Y H:i T"


def to_decimal(value) -> Decimal | None:
    """Decimal of a number or numeric string; None for None, blanks and non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def group_indian(digits: str) -> str:
    """``5000000`` → ``50,00,000``: the last three digits, then groups of two."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join(groups) + "," + tail


def format_number(value, places: int | None = 2, *, sign: bool = False) -> str:
    """Indian-grouped number with ``places`` decimals (None keeps the value's own); ``sign`` adds ``+``."""
    number = to_decimal(value)
    if number is None:
        return DASH
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    negative = number < 0
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    body = group_indian(whole) + (f".{fraction}" if fraction else "")
    if negative and number != 0:
        return "-" + body
    return ("+" + body) if sign and number > 0 else body


def format_money(value, places: int = 2, *, sign: bool = False) -> str:
    """``₹50,00,000.00``; negative ``-₹12,000.00``; ``sign`` shows ``+₹`` for gains (P&L)."""
    number = to_decimal(value)
    if number is None:
        return DASH
    body = format_number(abs(number), places)
    if number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) < 0:
        return "-₹" + body
    return ("+₹" if sign and number > 0 else "₹") + body


def format_money_short(value) -> str:
    """Axis labels: ``₹53.30 L`` (lakh), ``₹1.25 Cr`` (crore), smaller amounts in full rupees."""
    number = to_decimal(value)
    if number is None:
        return DASH
    sign, size = ("-" if number < 0 else ""), abs(number)
    if size >= Decimal("10000000"):
        return f"{sign}₹{size / Decimal('10000000'):.2f} Cr"
    if size >= Decimal("100000"):
        return f"{sign}₹{size / Decimal('100000'):.2f} L"
    return f"{sign}₹{format_number(size, 0)}"


def tick_places(tick) -> int:
    """Decimals a price needs at this tick: 1 → 0, 0.05 → 2, 0.5 → 1."""
    step = to_decimal(tick)
    if step is None or step <= 0:
        return 2
    return max(0, -step.normalize().as_tuple().exponent)


def round_to_tick(value, tick) -> Decimal | None:
    number, step = to_decimal(value), to_decimal(tick)
    if number is None:
        return None
    if step is None or step <= 0:
        return number
    return (number / step).quantize(Decimal(1), rounding=ROUND_HALF_EVEN) * step


def format_price(value, tick=None) -> str:
    """A price rounded to a multiple of the tick and shown with the tick's decimals (grouped)."""
    number = round_to_tick(value, tick)
    if number is None:
        return DASH
    return format_number(number, tick_places(tick) if tick is not None else 2)


def format_percent(value, places: int = 2) -> str:
    number = to_decimal(value)
    return DASH if number is None else f"{format_number(number, places)}%"


def format_r(value, places: int = 2) -> str:
    """A distance in R (multiples of the position's initial risk)."""
    number = to_decimal(value)
    return DASH if number is None else f"{format_number(number, places)} R"


def pnl_class(value) -> str:
    number = to_decimal(value)
    if number is None or number == 0:
        return "pnl-zero"
    return "pnl-pos" if number > 0 else "pnl-neg"


def format_timestamp(value: datetime | None) -> str:
    """An aware datetime in IST with the zone: ``12 Jan 2026 10:00:00 IST``."""
    if value is None:
        return DASH
    if value.tzinfo is None:
        raise ValueError("naive datetime: timestamps are aware (USE_TZ)")
    return value.astimezone(IST).strftime(TIMESTAMP_FORMAT)


def format_time_of_day(value: datetime | None) -> str:
    return DASH if value is None else value.astimezone(IST).strftime("%H:%M:%S")


def ist_date(value: datetime) -> date:
    return value.astimezone(IST).date()


def ist_midnight(value: datetime) -> datetime:
    """Start of the IST day that contains ``value`` (an aware datetime)."""
    local = value.astimezone(IST)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def format_age(value: timedelta | float | None) -> str:
    """``4 s``, ``2 min 5 s``, ``3 h 12 min``, ``2 d 4 h``: how long ago, to the useful precision."""
    if value is None:
        return DASH
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def humanize_key(key: str) -> str:
    """``equity_high`` → ``equity high``; for check details shown to people."""
    return str(key).replace("_", " ")


def _significant(number: Decimal) -> Decimal:
    """Without trailing zeros (``500.0000`` → ``500``, ``0.1250`` → ``0.125``), never in exponent form."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def format_detail_value(value) -> str:
    """A check-detail value: numbers grouped, without trailing zeros; the rest as text."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: DASH}[value]
    if isinstance(value, (int, float, Decimal)) or (isinstance(value, str) and to_decimal(value) is not None):
        number = to_decimal(value)
        return format_number(_significant(number), None) if number is not None else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_detail_value(item) for item in value) or DASH
    if isinstance(value, dict):
        return "; ".join(f"{humanize_key(k)} {format_detail_value(v)}" for k, v in value.items()) or DASH
    return str(value)
