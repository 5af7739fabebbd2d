"""The beat schedule lives in code and is written to django-celery-beat's tables by
``periodic_tasks_sync()`` (run by every beat at start-up, and by ``manage.py setup_periodic_tasks``);
nobody edits it by hand in admin.

The sync never saves a row whose definition is already right, and never writes ``last_run_at``: a
beat starting while the leader runs must not write back a run time it read before the leader's
last emission (a lost update that made the leader emit that period again), nor make the leader
reload its schedule for nothing.
"""

from __future__ import annotations

import json

from django.db import transaction

from core.locks import advisory_xact_lock

PREFIX = "pm:"


@transaction.atomic
def periodic_tasks_sync() -> list[str]:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    from recovery.jobs import JOBS

    # Every beat syncs at start-up, often at the same moment; the beat tables have no unique key on
    # a schedule, so serialize the writers instead of letting two of them create the same row.
    advisory_xact_lock("beat", "schedule")
    names, changed = [], False
    for job_name, job in JOBS.items():
        if not job.scheduled:
            continue
        every = (IntervalSchedule.objects.filter(every=job.interval, period=IntervalSchedule.SECONDS).order_by("id")
                 .first() or IntervalSchedule.objects.create(every=job.interval, period=IntervalSchedule.SECONDS))
        name = f"{PREFIX}{job_name}"
        wanted = dict(task="recovery.run_job", interval_id=every.pk, crontab_id=None, solar_id=None, clocked_id=None,
                      kwargs=json.dumps({"job": job_name}), enabled=True, one_off=False)
        row = PeriodicTask.objects.filter(name=name).values(*wanted).first()
        if row is None:
            PeriodicTask.objects.create(name=name, **wanted)
            changed = True
        elif row != wanted:
            PeriodicTask.objects.filter(name=name).update(**wanted)  # an UPDATE of these columns only
            changed = True
        names.append(name)
    changed |= bool(PeriodicTask.objects.filter(name__startswith=PREFIX, enabled=True).exclude(name__in=names)
                    .update(enabled=False))
    if changed:
        PeriodicTasks.update_changed()  # running schedulers reload the definitions
    return names
