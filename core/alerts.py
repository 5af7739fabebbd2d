"""Ops alerts.  Always logged; also sent to a Slack-compatible webhook and Telegram when configured.

Delivery runs on a background thread with short timeouts (an alert never delays an order), and a
repeating condition (database down, broker down) alerts once per ``every`` seconds per process.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

import httpx
import structlog
from django.conf import settings
from django.core.cache import cache

log = structlog.get_logger("pm.alerts")

_guard = threading.Lock()
_contention: deque[float] = deque()
CONTENTION_PER_MINUTE = 10


def alert(event: str, *, every: float | None = None, **fields) -> bool:
    """Raise an alert; with ``every``, at most once per that many seconds. True if it was sent."""
    if every is not None and not cache.add(f"alert:{event}", True, timeout=every):
        return False
    log.warning("alert", alert=event, **fields)
    text = f"[portfolio-manager] {event}: " + ", ".join(f"{k}={v}" for k, v in fields.items())
    targets = []
    if settings.PM_ALERT_WEBHOOK_URL:
        targets.append((settings.PM_ALERT_WEBHOOK_URL, {"text": text}))
    if settings.PM_TELEGRAM_BOT_TOKEN and settings.PM_TELEGRAM_CHAT_ID:
        url = f"https://api.telegram.org/bot{settings.PM_TELEGRAM_BOT_TOKEN}/sendMessage"
        targets.append((url, {"chat_id": settings.PM_TELEGRAM_CHAT_ID, "text": text}))
    if targets:
        threading.Thread(target=_deliver, args=(targets,), daemon=True, name="pm-alert").start()
    return True


def lock_contended(lock: str) -> None:
    """Count a contended lock; alert when more than 10 happen within a minute."""
    now = time.monotonic()
    with _guard:
        _contention.append(now)
        while _contention and now - _contention[0] > 60:
            _contention.popleft()
        count = len(_contention)
    if count > CONTENTION_PER_MINUTE:
        alert("lock_contention", every=60, lock=lock, per_minute=count)


def _deliver(targets: list[tuple[str, dict]]) -> None:
    for url, body in targets:
        try:
            httpx.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=3.0)
        except httpx.HTTPError as exc:
            log.error("alert_delivery_failed", target=url.split("/bot")[0], error=str(exc)[:200])
