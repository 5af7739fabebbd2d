"""Admin login throttling (django-axes, DESIGN §15.4): which client a failed login counts against.

The same address the webhook throttle uses (REMOTE_ADDR, or TRUSTED_PROXY_COUNT hops back in
X-Forwarded-For): behind nginx every request comes from the proxy, and locking the proxy out
would lock every operator out.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.shortcuts import render

from signals.throttle import client_address


def axes_client_ip(request) -> str | None:
    """A valid address or None (axes stores it in an IP address column; a forwarded header can carry
    anything, and requests built without a client, like the test client's force_login, carry none)."""
    for candidate in (client_address(request.META), request.META.get("REMOTE_ADDR", "")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def lockout_response(request, original_response=None, credentials=None):
    """429 with a page that says what happened, for how long, and how an administrator lifts it."""
    minutes = settings.ADMIN_LOGIN_COOLOFF_MINUTES
    context = {"title": "Too many failed logins", "failure_limit": settings.AXES_FAILURE_LIMIT,
               "cooloff_minutes": minutes, "address": axes_client_ip(request) or "unknown"}
    response = render(request, "admin/lockout.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
