"""Celery tasks of the signal pipeline: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="signals.execute_instrument", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def execute_instrument(instrument: str) -> int:
    from signals.dispatch import run_executor

    return run_executor(instrument)
