"""Database resilience: a unit of work that hits a connection error or a serialization failure is
retried whole, a bounded number of times, with exponential backoff (DESIGN §11)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from django.db import InterfaceError, OperationalError, connection, transaction

log = structlog.get_logger(__name__)
T = TypeVar("T")

RETRY_DELAYS = (0.2, 0.5, 1.0)


def atomic_with_retry(work: Callable[[], T], *, delays: tuple[float, ...] = RETRY_DELAYS, name: str = "",
                      serializable: bool = False) -> T:
    """Run ``work`` in its own transaction; on a transient database error roll back and run it again.

    ``work`` must be a pure database unit (no broker calls inside), so running it twice is harmless:
    the first attempt's writes were rolled back.  ``serializable`` runs it at PostgreSQL's
    SERIALIZABLE isolation; a serialization failure is one of the transient errors retried.
    """
    if connection.in_atomic_block:
        raise RuntimeError("atomic_with_retry must own its transaction; do not call it inside atomic()")
    for attempt in range(len(delays) + 1):
        try:
            with transaction.atomic():
                if serializable and connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                return work()
        except (OperationalError, InterfaceError) as exc:
            if attempt == len(delays):
                raise
            log.warning("unit_of_work_retry", unit=name, attempt=attempt + 1, error=str(exc)[:200])
            connection.close_if_unusable_or_obsolete()
            if connection.connection is not None and not connection.is_usable():
                connection.close()
            time.sleep(delays[attempt])
    raise AssertionError("unreachable")
