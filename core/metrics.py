"""Prometheus metrics (DESIGN §11).  One registry per process; /metrics renders it."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

webhook_requests = Counter(
    "pm_webhook_requests_total", "Webhook requests by outcome", ["outcome"]
)
ingest_latency = Histogram(
    "pm_webhook_ingest_seconds", "Time to validate, deduplicate and commit a webhook",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
signal_to_executed = Histogram(
    "pm_signal_to_executed_seconds", "From receipt to a terminal status",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
signals_by_status = Counter("pm_signals_finished_total", "Signals reaching a terminal status", ["status"])
broker_calls = Histogram(
    "pm_broker_call_seconds", "Broker call latency by endpoint and result", ["endpoint", "result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
broker_unknown_outcomes = Counter("pm_broker_unknown_outcomes_total", "Orders whose outcome was unknown")
lock_contention = Counter("pm_lock_contention_total", "Lock acquisitions that found the lock taken", ["lock"])
leader_changes = Counter("pm_leader_changes_total", "Times this process gained or lost leadership", ["change"])
is_leader = Gauge("pm_is_leader", "1 while this process holds the leader lease", multiprocess_mode="max")
open_discrepancies = Gauge(
    "pm_open_discrepancies_last_run", "Open discrepancies after this process's last reconciliation",
    multiprocess_mode="max",
)
dedup_hits = Counter("pm_dedup_hits_total", "Duplicate deliveries caught, by layer", ["layer"])
inline_executions = Counter("pm_inline_executions_total", "Executions run in-process because enqueueing failed")
