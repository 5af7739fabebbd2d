"""A worker's claim on a signal lasts as long as the worker works on it (DESIGN §15.1): one thread
per process pushes the deadline of every claim it holds on, every third of the claim period, so the
sweeper only ever takes back the claims of workers that died or stalled."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import structlog
from django.conf import settings
from django.db import connection

from signals.services.inbox import signal_claim_extend

log = structlog.get_logger(__name__)


class _ClaimKeeper:
    def __init__(self) -> None:
        self._held: dict[int, str] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def hold(self, signal_id: int, instance: str) -> None:
        with self._guard:
            self._held[signal_id] = instance
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pm-claim-keeper", daemon=True)
                self._thread.start()
        self._wake.set()  # the claim period may have changed since the thread last looked

    def drop(self, signal_id: int) -> None:
        with self._guard:
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
                held = list(self._held.items())
            for signal_id, instance in held:
                try:
                    if not signal_claim_extend(signal_id=signal_id, instance=instance):
                        self.drop(signal_id)  # finished, or taken back: nothing more to keep
                except Exception as exc:  # noqa: BLE001 — the keeper must outlive any one failure
                    log.warning("claim_extend_failed", signal_id=signal_id, error=str(exc)[:200])
            connection.close()  # this thread's connection goes back to the pool


_keeper = _ClaimKeeper()


@contextlib.contextmanager
def claim_kept(signal_id: int, instance: str) -> Iterator[None]:
    _keeper.hold(signal_id, instance)
    try:
        yield
    finally:
        _keeper.drop(signal_id)
