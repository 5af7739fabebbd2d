"""POST /webhook and /webhook/<token> — the TradingView alert edge (DESIGN §4, §5, §15.4, Appendix A),
a DRF ``APIView``.

Order of checks: method (405) → size (413) → JSON object (400) → secret or URL token (401, or 429
when the client keeps failing) → fields (400 naming each) → dedup and insert (202 accepted / 200
duplicate; 503 if not persisted because the database is unreachable).  A 5xx is returned only when
nothing was stored, so TradingView's resend is welcome; nothing a client sends can cause one.

Kept lean: one parser for whatever TradingView sends (JSON as ``application/json``, the same text as
``text/plain``), the secret or the URL token as the only authentication, no content negotiation, no
sessions, no CSRF.  The URL token never appears in a response, and config/logging.py redacts it
from every log line.
"""

from __future__ import annotations

import hmac
import json
import time

import structlog
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core import metrics
from core.alerts import alert
from signals.instruments import known_instruments
from signals.payloads import MAX_DEPTH, PayloadInvalid, json_depth_exceeds, validate_payload
from signals.services.ingest import ACCEPTED, signal_ingest
from signals.throttle import auth_failure_wait

log = structlog.get_logger(__name__)
NOT_AN_OBJECT = "The body must be a JSON object."
TOO_DEEP = f"The body must be a JSON object nested at most {MAX_DEPTH} levels deep."
NOT_STORED = "The signal could not be stored as sent."


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class NotAnObject(exceptions.ParseError):
    default_detail = NOT_AN_OBJECT


class TooDeep(NotAnObject):
    default_detail = TOO_DEEP


class TradingViewParser(BaseParser):
    """The alert message as TradingView sends it: a JSON object of at most PM_WEBHOOK_MAX_BYTES, under
    whatever content type (``application/json`` when the message parses as JSON, else ``text/plain``)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.PM_WEBHOOK_MAX_BYTES
        try:
            declared = int(parser_context["request"].META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        body = b"" if declared > limit else stream.read(limit + 1)
        if declared > limit or len(body) > limit:
            raise PayloadTooLarge(f"Body exceeds {limit} bytes.")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
            data = None
        if not isinstance(data, dict):
            raise NotAnObject()
        if json_depth_exceeds(data):
            raise TooDeep()
        return data


class WebhookSender:
    """The authenticated principal of a webhook request: whoever knows the secret or the URL token."""

    is_authenticated = True


def _same(supplied: object, expected: str | None) -> bool:
    """Constant-time comparison of a client-supplied credential; anything but a matching string is
    a mismatch (a number, a lone surrogate that cannot be encoded, an unset credential)."""
    if not isinstance(supplied, str) or not expected:
        return False
    return hmac.compare_digest(supplied.encode("utf-8", "surrogatepass"), expected.encode())


class WebhookSecretAuthentication:
    """The shared secret, in the body's ``secret`` field or else the ``X-Webhook-Secret`` header; or,
    on ``/webhook/<token>``, the URL token alone (TradingView sends neither a secret nor headers).
    Compared in constant time.  A failure is counted per client address; past the limit it is a 429."""

    def authenticate(self, request):
        if request.stream is None:  # an empty body: DRF does not even call the parser
            raise NotAnObject()
        data = request.data
        url_token = request.parser_context["kwargs"].get("token")
        if url_token is not None:
            authenticated = _same(url_token, settings.PM_WEBHOOK_URL_TOKEN)
        else:
            supplied = data["secret"] if "secret" in data else request.headers.get("X-Webhook-Secret")
            authenticated = _same(supplied, settings.PM_WEBHOOK_SECRET)
        if authenticated:
            return WebhookSender(), None
        wait = auth_failure_wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many failed authentication attempts.")
        raise exceptions.AuthenticationFailed(
            "Invalid webhook URL token." if url_token is not None else "Missing or invalid webhook secret.")

    def authenticate_header(self, request) -> str:
        return "Webhook-Secret"


class _OnlyJSON(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _error(status_code: int, error_type: str, detail: str, **extra) -> Response:
    metrics.webhook_requests.labels(outcome=error_type).inc()
    return Response({"status": "error", "error_type": error_type, "detail": detail, **extra}, status=status_code)


def webhook_exception_handler(exc, context) -> Response | None:
    """The contract's error bodies (Appendix A) for everything the webhook can refuse."""
    if isinstance(exc, PayloadTooLarge):
        return _error(413, "payload_too_large", str(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        message = TOO_DEEP if isinstance(exc, TooDeep) else NOT_AN_OBJECT
        return _error(400, "validation_error", "Body must be a JSON object.", errors={"non_field_errors": [message]})
    if isinstance(exc, exceptions.Throttled):
        response = _error(429, "throttled", str(exc.detail))
        response["Retry-After"] = str(exc.wait)
        return response
    if isinstance(exc, (exceptions.AuthenticationFailed, exceptions.NotAuthenticated)):
        response = _error(401, "authentication_failed", str(exc.detail))
        response["WWW-Authenticate"] = "Webhook-Secret"
        return response
    if isinstance(exc, exceptions.MethodNotAllowed):
        return _error(405, "method_not_allowed", "Use POST.")
    if isinstance(exc, PayloadInvalid):
        return _error(400, "validation_error", "Invalid signal.", errors=exc.errors)
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.error("webhook_not_persisted", error=str(exc)[:300], exc_type=type(exc).__name__)
        alert("database_unreachable", every=60, where="webhook", error=str(exc)[:200])
        return _error(503, "unavailable", "Signal not persisted (database unavailable); please retry.")
    if isinstance(exc, DatabaseError):
        # DataError, IntegrityError ...: the database answered and refused this row.  Sanitising at
        # the door should leave nothing of the kind; should something slip through, it is this
        # request's fault, not an outage: a 4xx (a resend would fail the same way) and no alert.
        log.error("webhook_refused_by_database", error=str(exc)[:300], exc_type=type(exc).__name__)
        return _error(400, "validation_error", NOT_STORED, errors={"non_field_errors": [NOT_STORED]})
    if isinstance(exc, exceptions.APIException):
        return _error(exc.status_code, exc.default_code, str(exc.detail))
    log.error("webhook_unexpected_error", exc_type=type(exc).__name__, exc_info=exc)
    # Our own JSON 500 rather than Django's error page, which would show the request path (the token).
    return _error(500, "internal_error", "Signal not persisted; please retry.")


class WebhookApi(APIView):
    parser_classes = [TradingViewParser]
    authentication_classes = [WebhookSecretAuthentication]
    permission_classes: list = []
    throttle_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _OnlyJSON
    schema = None  # not part of the staff API's OpenAPI document

    def initial(self, request, *args, **kwargs):
        if request.method != "POST":  # before authentication reads a body that is not there
            raise exceptions.MethodNotAllowed(request.method)
        request.started = time.perf_counter()
        super().initial(request, *args, **kwargs)

    def get_exception_handler(self):
        return webhook_exception_handler

    def post(self, request, *args, **kwargs):
        signal = validate_payload(request.data, instruments=known_instruments(),
                                  default_tz=settings.PM_SIGNAL_TIMEZONE)
        result = signal_ingest(signal=signal)
        metrics.ingest_latency.observe(time.perf_counter() - request.started)
        metrics.webhook_requests.labels(outcome=result.status).inc()
        log.info("webhook", outcome=result.status, signal_id=result.signal_id, fingerprint=result.fingerprint,
                 instrument=signal.instrument, signal_type=signal.signal_type)
        body = {"status": result.status, "signal_id": result.signal_id, "fingerprint": result.fingerprint}
        return Response(body, status=202 if result.status == ACCEPTED else 200)
