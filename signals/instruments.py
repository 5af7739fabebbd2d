"""The set of instrument codes, cached briefly per process: every webhook needs it, it rarely changes."""

from __future__ import annotations

import threading
import time

from portfolio.selectors import instrument_codes

_TTL = 30.0
_cache: tuple[float, frozenset[str]] | None = None
_lock = threading.Lock()


def known_instruments() -> frozenset[str]:
    global _cache
    now = time.monotonic()
    cached = _cache
    if cached is not None and cached[0] > now:
        return cached[1]
    with _lock:
        codes = instrument_codes()
        _cache = (now + _TTL, codes)
        return codes


def forget() -> None:
    global _cache
    _cache = None
