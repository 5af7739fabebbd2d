"""This process's identity: ``<INSTANCE_ID or hostname>:<pid>:<4 random hex>``, new at each start."""

from __future__ import annotations

import os
import secrets

from django.conf import settings

_identity: tuple[int, str] | None = None


def instance_id() -> str:
    """Stable for the life of this process; a forked child gets its own."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        _identity = (pid, f"{settings.PM_INSTANCE_NAME}:{pid}:{secrets.token_hex(2)}")
    return _identity[1]
