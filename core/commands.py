"""Shared pieces of management commands."""

from __future__ import annotations

import getpass


def command_actor() -> str:
    """Who runs a management command, for audit rows: ``command:<os user>``."""
    try:
        return f"command:{getpass.getuser()}"
    except (KeyError, OSError):
        return "command"
