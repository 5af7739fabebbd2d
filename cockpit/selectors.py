"""Reads of the cockpit: each section of the dashboard is one function here, aggregating in SQL and
bounded whatever the size of the history (the equity curve is downsampled in the query, today's
signals are capped), so the page stays within its budget (docs/BENCHMARKS.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cockpit import figures
from cockpit.charts import EquityPoint, Flow, SignalMark
from core.formatting import ist_date, ist_midnight

EQUITY_POINTS = 300  # at most this many points on the equity curve (plus the one before the range)
FLOW_MARKERS = 100  # the latest deposits/withdrawals marked in the range
SIGNALS_TODAY = 500  # dots on today's timeline (the newest); the counts cover every signal
LATEST_SIGNALS = 12
CENT = Decimal("0.01")


# --------------------------------------------------------------------------------- portfolio

def portfolio_overview() -> dict | None:
    """Equity, exposure against the caps (read from PortfolioState) and the pause; None before
    ``init_portfolio``."""
    from portfolio.selectors import portfolio_state
    from portfolio.services import PortfolioNotInitialised
    from recovery.selectors import portfolio_summary

    try:
        summary = portfolio_summary()
    except PortfolioNotInitialised:
        return None
    state = portfolio_state()
    margin_percent = figures.percent_of(summary["margin_used"], state.equity_high)
    bars = [
        figures.CapBar("risk", "Risk", summary["total_risk_percent"], state.max_risk_percent,
                       summary["total_risk_amount"]),
        figures.CapBar("vol", "Volatility", summary["total_vol_percent"], state.max_vol_percent,
                       summary["total_vol_amount"]),
        figures.CapBar("margin", "Margin", margin_percent, state.margin_limit_percent, summary["margin_used"]),
    ]
    drawdown = figures.percent_of(state.equity_high - state.closed_equity, state.equity_high)
    return {**summary, "bars": bars, "drawdown_percent": drawdown, "paused_at": state.paused_at,
            "paused_by": state.paused_by}


# --------------------------------------------------------------------------------- equity curve

# Every ledger row carries closed equity (equity_after) and the equity high after it (equity_high_after),
# so the curve is a sample: at ``EQUITY_POINTS`` + 1 instants evenly spread over the range, the last
# entry at or before each instant, one index probe each (ledger_created_id) — a few milliseconds
# whatever the ledger's length, and evenly spaced on the chart's time axis.
_EQUITY_SQL = """
WITH edges(n, t) AS (VALUES {values})
SELECT edges.n, ledger.id, ledger.created_at, ledger.equity_after,
       COALESCE(ledger.equity_high_after, ledger.equity_after)
FROM edges JOIN {table} AS ledger ON ledger.id = (
    SELECT probe.id FROM {table} AS probe WHERE probe.created_at <= edges.t
    ORDER BY probe.created_at DESC, probe.id DESC LIMIT 1)
ORDER BY edges.n
"""


@dataclass
class EquityCurve:
    points: list[EquityPoint] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)
    flow_count: int = 0
    start: datetime | None = None
    end: datetime | None = None


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite returns text
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt_timezone.utc)


def _money(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(CENT)  # SQLite: float


def _instants(edges: list[datetime]) -> str:
    """The probe instants as SQL literals: a few hundred bound parameters cost more to bind than the
    probes take to run.  Safe: each literal is the ISO text of a datetime made here, never input."""
    typed = "::timestamptz" if connection.vendor == "postgresql" else ""
    return ", ".join(f"({n}, '{connection.ops.adapt_datetimefield_value(edge)}'{typed})"
                     for n, edge in enumerate(edges))


def equity_curve(*, since: datetime | None, points: int = EQUITY_POINTS, now: datetime | None = None) -> EquityCurve:
    """Closed equity and equity high from ``since`` (None: the first entry) to now, at most ``points``
    + 1 points (each a ledger entry, at its own time; the first is the value the range opens with),
    and the range's deposits/withdrawals (the latest ``FLOW_MARKERS``)."""
    from django.db.models import Min

    from portfolio.models import CapitalTransaction

    end = now or timezone.now()
    start = since or CapitalTransaction.objects.aggregate(first=Min("created_at"))["first"] or end
    curve = EquityCurve(start=start, end=end)
    edges = [start + (end - start) * i / points for i in range(points + 1)]
    table = connection.ops.quote_name(CapitalTransaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_EQUITY_SQL.format(values=_instants(edges), table=table))
        rows = cursor.fetchall()
    seen = None
    for n, row_id, created_at, closed, high in rows:
        if row_id == seen:
            continue
        seen = row_id
        # An entry from before the range is the value the range opens with: drawn at the range start.
        curve.points.append(EquityPoint(max(_aware(created_at), start), _money(closed), _money(high)))
    flows_qs = CapitalTransaction.objects.filter(kind__in=("DEPOSIT", "WITHDRAW"), created_at__gte=start)
    latest = list(flows_qs.order_by("-id").values_list("created_at", "amount", "equity_after")[:FLOW_MARKERS + 1])
    curve.flow_count = len(latest)
    curve.flows = [Flow(at, amount, after) for at, amount, after in reversed(latest[:FLOW_MARKERS])]
    return curve


# --------------------------------------------------------------------------------- open positions

@dataclass
class PositionRow:
    id: int
    label: str
    layer: int
    status: str
    lots: int
    entry: Decimal | None
    mark: Decimal | None
    stop: Decimal
    distance: figures.StopDistance
    open_pnl: Decimal | None
    expiry: object
    days_to_expiry: int | None
    rollover: str
    url: str


@dataclass
class InstrumentBook:
    code: str
    name: str
    tick: Decimal
    mark: Decimal | None
    mark_at: datetime | None
    rows: list[PositionRow] = field(default_factory=list)

    @property
    def lots(self) -> int:
        return sum(row.lots for row in self.rows)

    @property
    def open_pnl(self) -> Decimal:
        return sum((row.open_pnl or Decimal(0) for row in self.rows), Decimal(0))

    @property
    def to_stop(self) -> Decimal:
        return sum((row.distance.money or Decimal(0) for row in self.rows), Decimal(0))


def open_books(*, now: datetime | None = None) -> list[InstrumentBook]:
    """Live positions (opening, open, closing) grouped by instrument, layer by layer."""
    from positions.models import LIVE_STATUSES, Position
    from positions.pnl import unrealized_pnl

    today = ist_date(now or timezone.now())
    change = reverse("admin:positions_position_change", args=[0]).replace("/0/", "/{}/")
    books: dict[str, InstrumentBook] = {}
    positions = (Position.objects.filter(status__in=LIVE_STATUSES).select_related("instrument")
                 .order_by("instrument_id", "layer", "id"))
    for p in positions:
        inst = p.instrument
        book = books.setdefault(inst.code, InstrumentBook(inst.code, inst.name, inst.tick_size, inst.mark_price,
                                                          inst.mark_at))
        entry = p.entry_price
        mark = inst.mark_price if inst.mark_price is not None else entry
        held = p.status != "opening" and entry is not None and mark is not None
        days = figures.days_to_expiry(p.expiry, today)
        book.rows.append(PositionRow(
            id=p.pk, label=p.label, layer=p.layer, status=p.status, lots=p.lots, entry=entry, mark=mark,
            stop=p.current_stop,
            distance=figures.stop_distance(entry=entry, initial_stop=p.initial_stop, current_stop=p.current_stop,
                                           mark=mark, lots=p.lots, point_value=inst.point_value),
            open_pnl=unrealized_pnl(entry_price=entry, mark_price=mark, lots=p.lots, point_value=inst.point_value)
            if held else None,
            expiry=p.expiry, days_to_expiry=days,
            rollover=figures.rollover_state(rollover_status=p.rollover_status, days_left=days,
                                            rollover_days=inst.rollover_days),
            url=change.format(p.pk),
        ))
    return list(books.values())


# --------------------------------------------------------------------------------- signals today

@dataclass
class SignalDay:
    start: datetime
    end: datetime
    instruments: list[str]
    marks: list[SignalMark]
    counts: dict[str, int]
    total: int
    latest: list[dict]


def todays_signals(*, now: datetime | None = None, limit: int = SIGNALS_TODAY) -> SignalDay:
    """Signals received since IST midnight: counts by status (all of them), the newest ``limit`` as
    timeline marks, and the newest few as a list."""
    from portfolio.models import Instrument
    from signals.models import SignalLog

    now = now or timezone.now()
    start = ist_midnight(now)
    today = SignalLog.objects.filter(received_at__gte=start).order_by("-received_at", "-id")
    counts = dict(today.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    change = reverse("admin:signals_signallog_change", args=[0]).replace("/0/", "/{}/")
    rows = today.values_list("id", "instrument_id", "signal_type", "position", "status", "reason",
                             "signal_timestamp")[:limit]
    marks = [SignalMark(pk, code, at, status, f"{kind} {layer}".strip() + (f" ({reason})" if reason else ""),
                        change.format(pk)) for pk, code, kind, layer, status, reason, at in reversed(rows)]
    latest = list(today.values("id", "instrument_id", "signal_type", "position", "status", "reason", "received_at",
                               "signal_timestamp")[:LATEST_SIGNALS])
    for row in latest:
        row["url"] = change.format(row["id"])
    active = list(Instrument.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
    seen = sorted({m.instrument for m in marks} - set(active))
    return SignalDay(start, now, active + seen, marks, counts, sum(counts.values()), latest)


# --------------------------------------------------------------------------------- health strip

def unresolved_order_count() -> int:
    """Orders the broker edge could not resolve within ORDER_RESOLUTION_SECONDS (status UNRESOLVED):
    they halt their instrument's entries until ops settle them."""
    from positions.models import IntentStatus, OrderIntent

    return OrderIntent.objects.filter(status=IntentStatus.UNRESOLVED).count()


def unresolved_orders_url() -> str:
    return reverse("admin:positions_orderintent_changelist") + "?status__exact=UNRESOLVED"


def health_strip() -> dict:
    """/health's checks and leader, live instances with their heartbeat age (database clock), open
    discrepancies, unresolved orders and the last reconciliation."""
    from core.models import InstanceMetadata, InstanceStatus
    from reconciliation.models import ReconciliationRun
    from reconciliation.selectors import open_discrepancy_count
    from recovery.selectors import health_report

    report = health_report()
    live = (InstanceStatus.STARTING, InstanceStatus.ACTIVE, InstanceStatus.STOPPING)
    age = ExpressionWrapper(Now() - F("last_heartbeat"), output_field=DurationField())
    instances = list(InstanceMetadata.objects.filter(status__in=live).annotate(age=age)
                     .order_by("role", "instance_id").values("instance_id", "role", "status", "age")[:50])
    for instance in instances:
        instance["leader"] = instance["instance_id"] == report["leader"]
    last = (ReconciliationRun.objects.order_by("-id")
            .values("id", "outcome", "trigger", "started_at", "finished_at").first())
    if last:
        last["url"] = reverse("admin:reconciliation_reconciliationrun_change", args=[last["id"]])
    return {
        "report": report, "instances": instances, "open_discrepancies": open_discrepancy_count(),
        "discrepancies_url": reverse("admin:reconciliation_discrepancy_changelist") + "?status__exact=open",
        "unresolved_orders": unresolved_order_count(), "unresolved_url": unresolved_orders_url(),
        "last_reconciliation": last,
    }
