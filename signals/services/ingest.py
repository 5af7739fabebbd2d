"""Ingest of a validated webhook signal: the dedup fast paths, then the insert that decides, then the
hand-over to the executor (DESIGN §6).

Caches are filled only after the row commits, so a cache can never claim a signal exists that the
database does not have; a cached hit is still confirmed by the database when the duplicate is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from signals import dedup
from signals.dispatch import execution_handoff
from signals.payloads import ValidatedSignal
from signals.services.inbox import signal_count_duplicate, signal_insert

ACCEPTED, DUPLICATE = "accepted", "duplicate"


@dataclass(frozen=True)
class IngestResult:
    status: str  # "accepted" | "duplicate"
    signal_id: int
    fingerprint: str
    layer: str = "database"


def signal_ingest(*, signal: ValidatedSignal, received_at: datetime | None = None) -> IngestResult:
    """Accept a validated signal exactly once; repeats count as duplicates of the first row."""
    received_at = received_at or timezone.now()
    cached = dedup.lookup(signal.fingerprint)
    if cached is not None:
        layer, cached_id = cached
        if signal_count_duplicate(fingerprint=signal.fingerprint, signal_id=cached_id) is not None:
            dedup.count_hit(layer)
            return IngestResult(DUPLICATE, cached_id, signal.fingerprint, layer)
    # One statement in autocommit: committed when it returns, or not at all.
    signal_id = signal_insert(signal=signal, received_at=received_at)
    if signal_id is None:
        first_id = signal_count_duplicate(fingerprint=signal.fingerprint)
        dedup.remember(signal.fingerprint, first_id)
        dedup.count_hit("database")
        return IngestResult(DUPLICATE, first_id, signal.fingerprint)
    # Only once the row is committed (at once in autocommit): fill the caches and hand the
    # instrument to the executor.  A crash in between leaves an accepted signal the sweeper picks up.
    transaction.on_commit(lambda: execution_handoff(fingerprint=signal.fingerprint, signal_id=signal_id,
                                                    instrument=signal.instrument))
    return IngestResult(ACCEPTED, signal_id, signal.fingerprint)
