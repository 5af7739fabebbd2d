"""Startup recovery (DESIGN §10): after any crash, find and finish (or flag) every half-done
operation, check the books, reconcile with the broker, and only then let queued signals run.

Steps, each recorded in the run's report (a failing step is recorded and the next still runs):

1. orphaned signal locks (owners without heartbeat) are removed;
2. held positions are validated — problems become warnings, nothing is changed; so is a year with no
   holidays on record for an exchange we trade (DESIGN §15.3);
3. incomplete work is listed, then resolved with the stuck-work sweeper: never-sent work whose claim
   expired is released back to the queue, sent orders are looked up at the broker (never resent)
   and their positions and signals settled.  Work still claimed by a live worker is left to it;
4. whatever is still unresolved is a warning; its instruments stay held by the executor (it claims
   nothing while an instrument has a processing signal or an unresolved order intent);
   rollovers pending/in progress/failed are warnings;
5. a reconciliation with the same trigger runs (so discrepancies found now halt entries before the
   queue moves);
6. instruments with accepted signals are handed to the executor.

``succeeded`` means every step ran and the broker could be read; warnings and discrepancies are
reported separately.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from django.utils import timezone

from core.alerts import alert
from core.instance import instance_id
from core.locks import orphaned_locks_cleanup
from positions.broker import Broker
from positions.broker.factory import get_broker
from reconciliation.models import ReconciliationOutcome, RunTrigger
from reconciliation.services.reconcile import reconciliation_run
from recovery.models import RecoveryRun
from recovery.selectors import calendar_warnings, held_position_facts, incomplete_work
from recovery.services.sweeper import kick_accepted, sweep
from recovery.services.validation import EXCHANGE_TIMEZONE, position_warnings

log = structlog.get_logger(__name__)


def recovery_run(*, trigger: str, broker: Broker | None = None, now: datetime | None = None) -> RecoveryRun:
    """Run startup recovery and return its stored record (``now`` is for tests of claim expiry)."""
    if trigger not in RunTrigger.values:
        raise ValueError(f"trigger must be one of {RunTrigger.values}, got {trigger!r}")
    trigger = RunTrigger(trigger).value
    broker = broker or get_broker()
    run = RecoveryRun.objects.create(trigger=trigger, instance_id=instance_id())
    report: dict = {"errors": []}
    warnings: list[dict] = []

    def step(name: str, work: Callable[[], object]):
        try:
            return work()
        except Exception as exc:  # recorded, alerted, and the remaining steps still run
            log.exception("recovery_step_failed", step=name, run_id=run.pk)
            report["errors"].append({"step": name, "error": f"{type(exc).__name__}: {exc}"[:500]})
            return None

    report["locks_removed"] = step("orphaned_locks", orphaned_locks_cleanup) or []
    today = timezone.now().astimezone(EXCHANGE_TIMEZONE).date()
    for facts in step("validation", held_position_facts) or []:
        warnings.extend(position_warnings(facts, today=today))
    warnings.extend(step("calendar", lambda: calendar_warnings(today=today)) or [])
    report["found"] = step("find_incomplete", incomplete_work) or {}
    report["resolved"] = step("resolve_incomplete", lambda: sweep(broker=broker, now=now, kick=False)) or {}
    remaining = step("find_remaining", incomplete_work) or {}
    report["remaining"] = remaining
    report["held_instruments"] = _held_instruments(remaining)
    warnings.extend(_remaining_warnings(remaining))
    reconciliation = step("reconciliation", lambda: reconciliation_run(trigger=trigger, broker=broker)) or {}
    report["reconciliation"] = reconciliation
    warnings.extend(_reconciliation_warnings(reconciliation))
    report["kicked"] = step("kick_accepted", kick_accepted) or []

    run.warnings, run.report, run.finished_at = warnings, report, timezone.now()
    run.succeeded = not report["errors"] and reconciliation.get("outcome") not in (
        None, ReconciliationOutcome.BROKER_UNAVAILABLE)
    run.save(update_fields=["warnings", "report", "finished_at", "succeeded"])
    log.info("recovery_finished", run_id=run.pk, trigger=trigger, succeeded=run.succeeded, warnings=len(warnings),
             held=report["held_instruments"])
    if not run.succeeded or warnings:
        alert("recovery_needs_attention", run_id=run.pk, succeeded=run.succeeded, warnings=len(warnings),
              errors=[e["step"] for e in report["errors"]], held_instruments=report["held_instruments"])
    return run


def _held_instruments(remaining: dict) -> list[str]:
    codes = {s["instrument_id"] for s in remaining.get("signals", [])}
    codes |= {i["position__instrument_id"] for i in remaining.get("intents", [])}
    return sorted(codes)


def _remaining_warnings(remaining: dict) -> list[dict]:
    warnings = []
    for p in remaining.get("positions", []):
        warnings.append({"check": "position_unsettled", "position_id": p["id"], "label": p["label"],
                         "instrument": p["instrument_id"], "detail": f"still {p['status']} after recovery"})
    for p in remaining.get("rollovers", []):
        warnings.append({"check": f"rollover_{p['rollover_status']}", "position_id": p["id"], "label": p["label"],
                         "instrument": p["instrument_id"],
                         "detail": f"rollover {p['rollover_status']} (expiry {p['expiry']}) after recovery: the "
                                   "sweeper and the rollover job keep driving it; see its Rollover record"})
    for s in remaining.get("signals", []):
        warnings.append({"check": "signal_processing", "signal_id": s["id"], "instrument": s["instrument_id"],
                         "detail": f"{s['signal_type']} {s['position']} still processing, claimed by "
                                   f"{s['processed_by'] or '?'} until {s['claim_expires_at']}; the sweeper "
                                   "takes it over when the claim expires"})
    for s in remaining.get("signals_awaiting_settlement", []):
        warnings.append({"check": "signal_awaiting_settlement", "signal_id": s["id"], "instrument": s["instrument_id"],
                         "detail": f"{s['signal_type']} {s['position']} failed while its orders were unsettled "
                                   "(an unknown outcome, or an exit being tried again)"})
    for i in remaining.get("intents", []):
        warnings.append({"check": "intent_unresolved", "intent_id": i["id"], "position_id": i["position_id"],
                         "instrument": i["position__instrument_id"],
                         "detail": f"{i['purpose']} order {i['client_order_id']} ({i['symbol']}) is {i['status']}"})
    return warnings


def _reconciliation_warnings(report: dict) -> list[dict]:
    if not report:
        return []
    if report.get("outcome") == ReconciliationOutcome.BROKER_UNAVAILABLE:
        return [{"check": "broker_unavailable", "detail": report.get("error", "")}]
    return [{"check": f"reconciliation_{item['kind']}", "instrument": item["instrument"],
             "position_ids": item["position_ids"],
             "detail": f"{item['exchange']}:{item['symbol']} expected {item['expected']}, broker {item['broker']}"}
            for item in report.get("items", []) if item["kind"] != "matched"]
