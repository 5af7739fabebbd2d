"""Shared by the webhook hygiene, contract and fuzz tests: what a hostile or clumsy client sends, what
the inbox must then hold, and a recorder of raised alerts.

The expected stored payload is computed here independently of ``signals.payloads.sanitise`` (an
oracle, not a second call of the code under test).
"""

from __future__ import annotations

import contextlib
import json
import math
from decimal import Decimal

from django.db import transaction

from signals.models import SignalLog

REPLACEMENT = "\ufffd"


@contextlib.contextmanager
def captured_alerts():
    """Every alert raised inside the block, by name, whoever raised it (``core.alerts.alert`` logs
    each one through its module logger, looked up at call time)."""
    from core import alerts

    raised: list[str] = []
    real = alerts.log

    class Recorder:
        def warning(self, event, **fields):
            raised.append(fields.get("alert", event))
            return real.warning(event, **fields)

        def __getattr__(self, name):
            return getattr(real, name)

    alerts.log = Recorder()
    try:
        yield raised
    finally:
        alerts.log = real


@contextlib.contextmanager
def rolled_back():
    """One fuzz example's writes, undone afterwards (a savepoint of the test's transaction)."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _clean_text(text: str) -> str:
    return "".join(REPLACEMENT if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def _clean(value):
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def expected_payload(received: dict) -> dict:
    """The stored form of a body the server parsed as ``received`` (DESIGN §15.4): without the secret,
    ``roc`` NaN (literal or quoted) as null, NUL and lone surrogates replaced, NaN/±Infinity null."""
    payload = {k: v for k, v in received.items() if k != "secret"}
    roc = payload.get("roc")
    if (isinstance(roc, float) and math.isnan(roc)) or (isinstance(roc, str) and roc.strip().lower() == "nan"):
        payload["roc"] = None
    return _clean(payload)


def comparable(value):
    """JSON numbers compared as decimal numbers: jsonb keeps 1.5e300 as an exact integer, which reads
    back as a Python int equal in decimal to the float's shortest representation."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    return [comparable(v) for v in value]


def parsed(body: bytes) -> dict:
    """The body as the server parses it."""
    return json.loads(body)


def stored(signal_id: int) -> dict:
    return SignalLog.objects.get(pk=signal_id).payload
