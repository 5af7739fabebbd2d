"""Throttling of webhook requests that FAIL authentication, per client address (DESIGN §4).

Authenticated signals are never throttled: behind a tunnel every TradingView alert comes from one
address.  The counter is django-ratelimit's, in the shared cache (Redis, so every instance counts
together); it is abuse damping, so when Redis is down it fails open rather than refusing traffic.
"""

from __future__ import annotations

from django.conf import settings
from django_ratelimit.core import get_usage

GROUP = "webhook-auth-failure"


def client_address(meta: dict) -> str:
    """REMOTE_ADDR, or the address TRUSTED_PROXY_COUNT hops back in X-Forwarded-For."""
    hops = settings.PM_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if hops > 0 and forwarded:
        return forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    return meta.get("REMOTE_ADDR", "unknown")


def auth_failure_wait(request) -> int | None:
    """Count a failed authentication of this request's client; the seconds it must wait when it is
    over its limit (``WEBHOOK_AUTH_FAILURE_THROTTLE``), else None."""
    usage = get_usage(request, group=GROUP, key=lambda _group, req: client_address(req.META),
                      rate=settings.PM_WEBHOOK_AUTH_FAILURE_THROTTLE, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])
