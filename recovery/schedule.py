"""The beat schedule lives in code and is written to django-celery-beat's tables by
``periodic_tasks_sync()`` (run by every beat at start-up, and by ``manage.py setup_periodic_tasks``);
nobody edits it by hand in admin."""

from __future__ import annotations

import json

from django.db import connection, transaction

from core.dbutils import lock_key

PREFIX = "pm:"


@transaction.atomic
def periodic_tasks_sync() -> list[str]:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from recovery.jobs import JOBS

    # Every beat syncs at start-up, often at the same moment; the beat tables have no unique key on
    # a schedule, so serialize the writers instead of letting two of them create the same row.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("beat", "schedule")])
    names = []
    for job_name, job in JOBS.items():
        if not job.scheduled:
            continue
        every = (IntervalSchedule.objects.filter(every=job.interval, period=IntervalSchedule.SECONDS).order_by("id")
                 .first() or IntervalSchedule.objects.create(every=job.interval, period=IntervalSchedule.SECONDS))
        name = f"{PREFIX}{job_name}"
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults=dict(task="recovery.run_job", interval=every, crontab=None, solar=None, clocked=None,
                          kwargs=json.dumps({"job": job_name}), enabled=True, one_off=False),
        )
        names.append(name)
    PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=names).update(enabled=False)
    return names
