"""The Celery application.  Tasks are thin wrappers around services (see each app's tasks.py)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def cap_malloc_arenas() -> None:
    """glibc gives each thread that contends for malloc an arena of its own (up to 8 per core) and
    rarely hands their freed pages back, so a long-running threaded process (the worker's pool, the
    web's request threads, the beat's jobs, the database pool's workers) creeps up in memory though
    its Python heap stays flat.  Two arenas are plenty under the GIL.  Called when this module is
    imported (every process of ours imports it through ``config``), before any of those threads
    exists; ``MALLOC_ARENA_MAX`` in the environment (read by glibc itself at start) wins."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError, TypeError):
        pass  # not glibc (musl, macOS): nothing to cap


cap_malloc_arenas()

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
