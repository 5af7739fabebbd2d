"""Named crash points for chaos tests: ``fault_point("after_intent_commit")`` kills this process
with SIGKILL when the environment says ``PM_FAULT_KILL_AT=after_intent_commit``; otherwise it does
nothing.  Points: after_intent_commit, after_broker_accept (and after_broker_accept_<purpose>, e.g.
after_broker_accept_rollover_close), before_booking, rollover_close_filled."""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("PM_FAULT_KILL_AT", "")


def fault_point(name: str) -> None:
    if _TARGET and _TARGET == name:
        os.kill(os.getpid(), signal.SIGKILL)
