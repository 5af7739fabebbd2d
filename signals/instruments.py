"""The set of instrument codes, cached briefly per process: every webhook needs it, it rarely changes."""

from __future__ import annotations

from django.core.cache import cache

from portfolio.selectors import instrument_codes

TTL_SECONDS = 30
_KEY = "instrument_codes"


def known_instruments() -> frozenset[str]:
    return cache.get_or_set(_KEY, instrument_codes, TTL_SECONDS)


def forget() -> None:
    cache.delete(_KEY)
