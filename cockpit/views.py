"""The ops cockpit: one server-rendered page for staff (``/admin/cockpit/``) whose sections refresh
themselves every few seconds without a full reload.

Refresh is a few lines of our own JavaScript (``static/cockpit/cockpit.js``: fetch each section's
fragment URL on its interval and swap its HTML) rather than htmx: it is all the page needs, it is
smaller than htmx's bundle, and there is then no third-party script to vendor, pin and keep up to date.
The sections' reads are ``cockpit.selectors``; the charts are SVG written by ``cockpit.charts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from cockpit import charts, figures, selectors


@dataclass(frozen=True)
class Section:
    name: str
    template: str
    url: str
    seconds: int


def _refresh_seconds() -> int:
    return int(getattr(settings, "PM_COCKPIT_REFRESH_SECONDS", 5))


def _health(request, now):
    strip = selectors.health_strip()
    last = strip["last_reconciliation"]
    strip["last_reconciliation_age"] = (now - last["started_at"]) if last else None
    return {"health": strip}


def _summary(request, now):
    return {"overview": selectors.portfolio_overview()}


def _equity(request, now):
    key = figures.range_key(request.GET.get("range"))
    curve = selectors.equity_curve(since=figures.range_start(key, now))
    chart = charts.equity_svg(curve.points, curve.flows, start=curve.start or now, end=curve.end or now)
    return {"range": key, "ranges": [(k, label) for k, (label, _) in figures.RANGES.items()], "curve": curve,
            "equity_chart": chart, "flows_capped": curve.flow_count > selectors.FLOW_MARKERS}


def _positions(request, now):
    return {"books": selectors.open_books(now=now)}


def _signals(request, now):
    day = selectors.todays_signals(now=now)
    start, end = charts.timeline_window(day.marks, day_start=day.start, now=now)
    return {"day": day, "timeline": charts.timeline_svg(day.instruments, day.marks, start=start, end=end),
            "legend": charts.legend(), "capped": day.total > len(day.marks)}


# name → (context builder, refresh multiplier): the equity curve moves only when the ledger does.
SECTIONS = {"health": (_health, 1), "summary": (_summary, 1), "equity": (_equity, 6), "positions": (_positions, 1),
            "signals": (_signals, 1)}


def _section_url(name: str, request) -> str:
    url = reverse("cockpit:section", args=[name])
    if name == "equity":
        url += f"?range={figures.range_key(request.GET.get('range'))}"
    return url


@never_cache
@staff_member_required
def dashboard(request):
    now = timezone.now()
    context = {**admin.site.each_context(request), "title": "Cockpit", "is_nav_sidebar_enabled": False,
               "now": now}
    sections = []
    for name, (build, multiplier) in SECTIONS.items():
        context.update(build(request, now))
        sections.append(Section(name, f"cockpit/sections/{name}.html", _section_url(name, request),
                                _refresh_seconds() * multiplier))
    context["sections"] = sections
    return render(request, "cockpit/dashboard.html", context)


@never_cache
@staff_member_required
def section(request, name: str):
    """One section's HTML fragment, for the page's refresh."""
    if name not in SECTIONS:
        raise Http404(f"no cockpit section {name!r}")
    now = timezone.now()
    build, _ = SECTIONS[name]
    return render(request, f"cockpit/sections/{name}.html", {"now": now, **build(request, now)})
