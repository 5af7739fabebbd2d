"""The Celery application.  Tasks are thin wrappers around services (see each app's tasks.py)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_ready, worker_shutdown

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
