"""A worker's claim on a signal lasts as long as the worker works on it (DESIGN §15.1): one thread
per process pushes the deadline of every claim it holds on, every third of the claim period (one
statement per worker identity, however many claims a batch holds), so the sweeper only ever takes
back the claims of workers that died or stalled."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import structlog
from django.conf import settings
from django.db import connection

from signals.services.inbox import signal_claims_extend

log = structlog.get_logger(__name__)


class _ClaimKeeper:
    def __init__(self) -> None:
        self._held: dict[int, str] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def hold(self, signal_ids: list[int], instance: str) -> None:
        with self._guard:
            self._held.update(dict.fromkeys(signal_ids, instance))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pm-claim-keeper", daemon=True)
                self._thread.start()
        self._wake.set()  # the claim period may have changed since the thread last looked

    def drop(self, signal_ids: list[int]) -> None:
        with self._guard:
            for signal_id in signal_ids:
                self._held.pop(signal_id, None)

    def _run(self) -> None:
        last_round = time.monotonic()
        while True:
            # Recomputed on every wake-up: a new claim may come with a shorter claim period.
            remaining = last_round + max(1.0, settings.PM_SIGNAL_CLAIM_SECONDS / 3) - time.monotonic()
            if remaining > 0:
                self._wake.wait(remaining)
                self._wake.clear()
                continue
            last_round = time.monotonic()
            with self._guard:
                by_instance: dict[str, list[int]] = {}
                for signal_id, instance in self._held.items():
                    by_instance.setdefault(instance, []).append(signal_id)
            for instance, signal_ids in by_instance.items():
                try:
                    kept = signal_claims_extend(signal_ids=signal_ids, instance=instance)
                    self.drop([i for i in signal_ids if i not in kept])  # finished, or taken back
                except Exception as exc:  # noqa: BLE001 — the keeper must outlive any one failure
                    log.warning("claim_extend_failed", signal_ids=signal_ids, error=str(exc)[:200])
            connection.close()  # this thread's connection goes back to the pool


_keeper = _ClaimKeeper()


@contextlib.contextmanager
def claims_kept(signal_ids: list[int], instance: str) -> Iterator[None]:
    """Keep the claims of a batch alive while the block runs (each is dropped by the keeper once the
    signal has finished, and all of them when the block ends)."""
    signal_ids = list(signal_ids)
    _keeper.hold(signal_ids, instance)
    try:
        yield
    finally:
        _keeper.drop(signal_ids)


def claim_kept(signal_id: int, instance: str):
    return claims_kept([signal_id], instance)
