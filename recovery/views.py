"""GET /health, /ready and /metrics (DESIGN §4, Appendix A).  No authentication: load balancers
and Prometheus call them."""

from __future__ import annotations

import os
import time

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest, multiprocess

from core.instance import instance_id
from core.redis_client import RedisUnavailable, call, redis_configured
from core.runtime import runtime
from recovery.selectors import calendar_warnings, market_sessions_mode

BROKER_CHECK_TTL = 5  # seconds a broker check is reused: health probes must not hammer the broker
_migrations_ok = False


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        status = check()
    except Exception:
        status = "down"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def database_check() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _redis() -> str:
    if not redis_configured():
        return "disabled"
    try:
        call(lambda r: r.ping())
    except RedisUnavailable:
        return "down"
    return "ok"


def _broker() -> dict:
    def ping():
        from positions.broker.factory import get_broker
        from positions.services.guards import analyzer_blocker

        broker = get_broker()
        broker.ping()
        return "degraded" if analyzer_blocker(broker) else "ok"  # reachable, but no order may go to it

    return cache.get_or_set("health:broker", lambda: _timed(ping), BROKER_CHECK_TTL)


def health(request):
    from core.leader import current_leader

    checks = {"database": _timed(database_check), "redis": _timed(_redis), "broker": _broker()}
    healthy = checks["database"]["status"] == "ok"
    try:
        leader = current_leader()
    except DatabaseError:
        leader = None
    me = instance_id()
    body = {"status": "healthy" if healthy else "unhealthy", "instance_id": me, "is_leader": leader == me,
            "leader": leader, "checks": checks, "market_sessions": market_sessions_mode(),
            "warnings": _warnings() if healthy else []}
    return JsonResponse(body, status=200 if healthy else 503)


def _warnings() -> list[dict]:
    """Things ops should fix that do not make the instance unhealthy (e.g. a year without holidays)."""
    try:
        return calendar_warnings()
    except DatabaseError:
        return []


def _not_ready(reason: str) -> JsonResponse:
    return JsonResponse({"status": "not_ready", "reason": reason}, status=503)


def ready(request):
    global _migrations_ok
    if runtime.shutting_down.is_set():
        return _not_ready("shutting down")
    try:
        database_check()
        if not _migrations_ok:
            from django.db.migrations.executor import MigrationExecutor

            if MigrationExecutor(connection).migration_plan(MigrationExecutor(connection).loader.graph.leaf_nodes()):
                return _not_ready("migrations not applied")
            _migrations_ok = True
        from portfolio.models import PortfolioState

        if not PortfolioState.objects.exists():
            return _not_ready("portfolio state missing: run init_portfolio")
    except DatabaseError:
        return _not_ready("database unavailable")
    return JsonResponse({"status": "ready"})


def _database_gauges() -> bytes:
    """Gauges read from the database at scrape time, so every instance reports the same truth."""
    from django.db.models import Count

    from reconciliation.selectors import open_discrepancy_count
    from signals.models import SignalLog

    registry = CollectorRegistry()
    discrepancies = Gauge("pm_open_discrepancies", "Open reconciliation discrepancies", registry=registry)
    by_status = Gauge("pm_signals", "Signals in the log by status", ["status"], registry=registry)
    try:
        discrepancies.set(open_discrepancy_count())
        for row in SignalLog.objects.values("status").annotate(n=Count("pk")):
            by_status.labels(status=row["status"]).set(row["n"])
    except DatabaseError:
        pass
    return generate_latest(registry)


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        own = generate_latest(registry)
    else:
        own = generate_latest()
    return HttpResponse(own + _database_gauges(), content_type=CONTENT_TYPE_LATEST)

