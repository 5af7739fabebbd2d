"""The Celery application.  Tasks are thin wrappers around services (see each app's tasks.py)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pm")
# Without this, threads other than the importing one (gunicorn gthread workers, the inline pool)
# see Celery's fallback default app, and tasks published there would go to the wrong broker.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_kwargs) -> None:
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_init.connect
def _yield_cpu_to_ingest(**_kwargs) -> None:
    """A worker runs at a lower CPU priority than the web instances beside it, so that when the two
    compete for the CPU the webhook's answers come first (TradingView gives up after 3 s; execution
    can wait a moment); a host with CPU to spare runs both at full speed.  The beat keeps its
    priority: it renews the leader lease."""
    from django.conf import settings

    niceness = settings.PM_WORKER_NICENESS
    if not niceness:
        return
    os.nice(niceness)  # this thread and the pool threads it starts
    try:
        # With the kernel's autogroups (one per session: every service started on its own), the
        # scheduler weighs the groups first, and a nice value counts only inside its group.
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(niceness))
    except OSError:
        pass  # not Linux, or no autogroups: the nice value alone does it


@worker_ready.connect
def _worker_started(**_kwargs) -> None:
    from core.runtime import runtime

    runtime.start(role="worker")


@worker_shutdown.connect
def _worker_stopped(**_kwargs) -> None:
    from core.runtime import runtime

    runtime.stop()


@beat_init.connect
def _beat_started(**_kwargs) -> None:
    import atexit

    from core.runtime import runtime

    runtime.start(role="beat")
    atexit.register(runtime.stop)
