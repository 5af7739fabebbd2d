"""POST /webhook — the TradingView alert edge (DESIGN §4, §5, Appendix A).

Order of checks: size (413) → JSON object (400) → secret (401, or 429 when the client keeps failing)
→ fields (400 naming each) → dedup and insert (202 accepted / 200 duplicate; 503 if not persisted).
A 5xx is returned only when nothing was stored, so TradingView's resend is always welcome.
"""

from __future__ import annotations

import hmac
import json
import time

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core import metrics
from core.alerts import alert
from signals.instruments import known_instruments
from signals.payloads import PayloadInvalid, validate_payload
from signals.services.ingest import ACCEPTED, signal_ingest
from signals.throttle import client_address, record_auth_failure

log = structlog.get_logger(__name__)


def _error(status: int, error_type: str, detail: str, **extra) -> JsonResponse:
    metrics.webhook_requests.labels(outcome=error_type).inc()
    return JsonResponse({"status": "error", "error_type": error_type, "detail": detail, **extra}, status=status)


def _secret_ok(data: dict, request) -> bool:
    supplied = data["secret"] if "secret" in data else request.headers.get("X-Webhook-Secret")
    if not isinstance(supplied, str):
        return False
    return hmac.compare_digest(supplied.encode(), settings.PM_WEBHOOK_SECRET.encode())


def _read_body(request) -> bytes | None:
    """The body, or None when it is larger than the limit (by Content-Length or by bytes read)."""
    limit = settings.PM_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
def webhook(request):
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Use POST.")
    started = time.perf_counter()
    body = _read_body(request)
    if body is None:
        return _error(413, "payload_too_large", f"Body exceeds {settings.PM_WEBHOOK_MAX_BYTES} bytes.")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _error(400, "validation_error", "Body must be a JSON object.",
                      errors={"non_field_errors": ["The body must be a JSON object."]})
    if not _secret_ok(data, request):
        wait = record_auth_failure(client_address(request.META))
        if wait is not None:
            response = _error(429, "throttled", "Too many failed authentication attempts.")
            response["Retry-After"] = str(wait)
            return response
        return _error(401, "authentication_failed", "Missing or invalid webhook secret.")
    try:
        signal = validate_payload(data, instruments=known_instruments(), default_tz=settings.PM_SIGNAL_TIMEZONE)
        result = signal_ingest(signal=signal)
    except PayloadInvalid as exc:
        return _error(400, "validation_error", "Invalid signal.", errors=exc.errors)
    except DatabaseError as exc:
        log.error("webhook_not_persisted", error=str(exc)[:300], exc_type=type(exc).__name__)
        alert("database_unreachable", every=60, where="webhook", error=str(exc)[:200])
        return _error(503, "unavailable", "Signal not persisted (database unavailable); please retry.")
    metrics.ingest_latency.observe(time.perf_counter() - started)
    metrics.webhook_requests.labels(outcome=result.status).inc()
    log.info("webhook", outcome=result.status, signal_id=result.signal_id, fingerprint=result.fingerprint,
             instrument=signal.instrument, signal_type=signal.signal_type)
    body = {"status": result.status, "signal_id": result.signal_id, "fingerprint": result.fingerprint}
    return JsonResponse(body, status=202 if result.status == ACCEPTED else 200)
