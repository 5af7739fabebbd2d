"""The cockpit's charts as SVG written here, in Python (pure: no database, no Django).

Why SVG from the server rather than a charting library: the cockpit is server-rendered and refreshes
by swapping HTML fragments, so a chart that *is* HTML needs no client code, no initialisation after
each swap, no vendored bundle to pin and audit, and draws identically without JavaScript; the data is
already bounded (a few hundred equity points, today's signals), so the markup stays small (tens of
kilobytes).  Tests read the numbers straight from the DOM.  The price is hand-made axes and no
hover zoom; tooltips come from SVG ``<title>`` elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape

from cockpit.figures import OUTCOMES, status_colour
from core.formatting import IST, format_money, format_money_short, format_time_of_day, format_timestamp


@dataclass(frozen=True)
class EquityPoint:
    at: datetime
    closed: Decimal
    high: Decimal


@dataclass(frozen=True)
class Flow:
    """A deposit (amount > 0) or withdrawal (< 0) and the closed equity after it."""

    at: datetime
    amount: Decimal
    equity_after: Decimal


@dataclass(frozen=True)
class SignalMark:
    id: int
    instrument: str
    at: datetime
    status: str
    label: str
    url: str


def _f(value: float) -> str:
    return f"{value:.1f}"


def _date_label(at: datetime, span: timedelta) -> str:
    local = at.astimezone(IST)
    if span <= timedelta(days=2):
        return local.strftime("%d %b %H:%M")
    return local.strftime("%d %b %Y") if span > timedelta(days=200) else local.strftime("%d %b")


def equity_svg(points: Sequence[EquityPoint], flows: Sequence[Flow], *, start: datetime, end: datetime,
               width: int = 900, height: int = 260) -> str:
    """Closed equity (a step line: it changes only at ledger entries) and the equity high (dashed)
    from ``start`` to ``end``, deposits ▲ and withdrawals ▼ on the closed line."""
    left, right, top, bottom = 84, 14, 12, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    head = (f'<svg id="equity-chart" class="chart" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="Equity curve" xmlns="http://www.w3.org/2000/svg">')
    if not points:
        return (head + f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="empty">'
                'No ledger entries in this range</text></svg>')
    values = [float(v) for p in points for v in (p.closed, p.high)] + [float(f.equity_after) for f in flows]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.01, 1.0)
    lo, hi = lo - pad, hi + pad
    span = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        seconds = min(max((at - start).total_seconds(), 0.0), span)
        return left + plot_w * seconds / span

    def y(value) -> float:
        return top + plot_h * (1 - (float(value) - lo) / (hi - lo))

    def step_path(attr: str) -> str:
        first = points[0]
        parts = [f"M{_f(x(first.at))},{_f(y(getattr(first, attr)))}"]
        for point in points[1:]:
            parts.append(f"H{_f(x(point.at))}V{_f(y(getattr(point, attr)))}")
        parts.append(f"H{_f(left + plot_w)}")
        return "".join(parts)

    grid = []
    for i in range(5):
        value = lo + (hi - lo) * i / 4
        gy = y(value)
        grid.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_f(gy)}" y2="{_f(gy)}"/>'
                    f'<text class="axis" x="{left - 6}" y="{_f(gy + 4)}" text-anchor="end">'
                    f'{escape(format_money_short(Decimal(str(round(value, 2)))))}</text>')
    for fraction, anchor in ((0, "start"), (0.5, "middle"), (1, "end")):
        at = start + (end - start) * fraction
        grid.append(f'<text class="axis" x="{_f(left + plot_w * fraction)}" y="{height - 6}" '
                    f'text-anchor="{anchor}">{escape(_date_label(at, end - start))}</text>')
    marks = []
    for flow in flows:
        fx, fy = x(flow.at), y(flow.equity_after)
        deposit = flow.amount > 0
        shape = (f"M{_f(fx)},{_f(fy - 7)}l6,10h-12z" if deposit else f"M{_f(fx)},{_f(fy + 7)}l6,-10h-12z")
        what = "Deposit" if deposit else "Withdrawal"
        marks.append(f'<path class="flow {"deposit" if deposit else "withdrawal"}" d="{shape}">'
                     f'<title>{what} {escape(format_money(abs(flow.amount)))} — {escape(format_timestamp(flow.at))}'
                     f'</title></path>')
    last = points[-1]
    return (head + "".join(grid)
            + f'<path class="high-line" d="{step_path("high")}"><title>Equity high '
            f'{escape(format_money(last.high))}</title></path>'
            + f'<path class="closed-line" d="{step_path("closed")}"><title>Closed equity '
            f'{escape(format_money(last.closed))}</title></path>'
            + f'<g class="flows">{"".join(marks)}</g></svg>')


TICK_STEPS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1),
              timedelta(hours=3))


def timeline_window(marks: Sequence[SignalMark], *, day_start: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The span the timeline shows: from the hour of the day's first signal (not before midnight) to
    now, at least an hour, so a morning's signals are not squeezed into one corner of the day."""
    first = min((m.at for m in marks), default=now)
    start = max(day_start, first.astimezone(IST).replace(minute=0, second=0, microsecond=0))
    return start, max(now, start + timedelta(hours=1))


def timeline_svg(instruments: Sequence[str], marks: Sequence[SignalMark], *, start: datetime, end: datetime,
                 width: int = 900) -> str:
    """Signals, one row per instrument, one dot per signal at its signal time, coloured by its
    outcome, each a link to its signal page (with the checks)."""
    left, right, row_h, top, bottom = 110, 22, 26, 6, 22
    height = top + row_h * max(len(instruments), 1) + bottom
    plot_w = width - left - right
    span = max((end - start).total_seconds(), 1.0)
    rows = {code: i for i, code in enumerate(instruments)}

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - start).total_seconds(), 0.0) / span, 1.0)

    parts = [f'<svg id="signal-timeline" class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="Signals today by instrument" xmlns="http://www.w3.org/2000/svg">']
    for code, i in rows.items():
        cy = top + row_h * i + row_h / 2
        parts.append(f'<g class="row" data-instrument="{escape(code)}"><text class="axis" x="{left - 8}" '
                     f'y="{_f(cy + 4)}" text-anchor="end">{escape(code)}</text><line class="grid" x1="{left}" '
                     f'x2="{left + plot_w}" y1="{_f(cy)}" y2="{_f(cy)}"/></g>')
    step = next((s for s in TICK_STEPS if span / s.total_seconds() <= 8), TICK_STEPS[-1])
    tick = start
    while tick <= end:
        parts.append(f'<text class="axis" x="{_f(x(tick))}" y="{height - 6}" text-anchor="middle">'
                     f'{tick.astimezone(IST):%H:%M}</text>')
        tick += step
    for mark in marks:
        if mark.instrument not in rows:
            continue
        cy = top + row_h * rows[mark.instrument] + row_h / 2
        parts.append(f'<a href="{escape(mark.url)}" class="sig sig-{escape(mark.status)}" '
                     f'data-signal-id="{mark.id}" data-status="{escape(mark.status)}">'
                     f'<circle cx="{_f(x(mark.at))}" cy="{_f(cy)}" r="6" fill="{status_colour(mark.status)}">'
                     f'<title>#{mark.id} {escape(mark.label)} — {escape(mark.status)}, signal time '
                     f'{escape(format_time_of_day(mark.at))} IST</title></circle></a>')
    parts.append("</svg>")
    return "".join(parts)


def legend() -> list[tuple[str, str]]:
    """(status, colour) for the timeline legend: the outcomes, then 'other' in the neutral colour."""
    return [(status, status_colour(status)) for status in OUTCOMES] + [("other", status_colour("other"))]
