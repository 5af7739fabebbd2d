"""Celery tasks of the recovery app: thin wrappers around services."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="recovery.run_job", acks_late=True, ignore_result=True)
def run_job(job: str, fencing_epoch: int | None = None, scheduled_at: float | None = None,
            interval: float | None = None) -> dict:
    from recovery.jobs import job_run

    return job_run(name=job, epoch=fencing_epoch, scheduled_at=scheduled_at, interval=interval)
