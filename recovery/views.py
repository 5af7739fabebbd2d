"""GET /health, /ready and /metrics (DESIGN §4, Appendix A).  No authentication: load balancers
and Prometheus call them."""

from __future__ import annotations

import os

from django.db import DatabaseError, connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest, multiprocess

from core.runtime import runtime
from recovery import selectors

_migrations_ok = False


def health(request):
    body = selectors.health_report()
    return JsonResponse(body, status=200 if body["status"] == "healthy" else 503)


def _not_ready(reason: str) -> JsonResponse:
    return JsonResponse({"status": "not_ready", "reason": reason}, status=503)


def ready(request):
    global _migrations_ok
    if runtime.shutting_down.is_set():
        return _not_ready("shutting down")
    try:
        selectors.database_check()
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

