"""Ops alerts.  Always logged; also sent to a Slack-compatible webhook and Telegram when configured.

Delivery runs on a background thread with short timeouts: an alert must never delay an order.
"""

from __future__ import annotations

import json
import threading

import httpx
import structlog
from django.conf import settings

log = structlog.get_logger("pm.alerts")


def alert(event: str, **fields) -> None:
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


def _deliver(targets: list[tuple[str, dict]]) -> None:
    for url, body in targets:
        try:
            httpx.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=3.0)
        except httpx.HTTPError as exc:
            log.error("alert_delivery_failed", target=url.split("/bot")[0], error=str(exc)[:200])
