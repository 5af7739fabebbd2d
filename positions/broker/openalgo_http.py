"""HTTP to OpenAlgo: one POST per call, answers sorted into kinds, and the rules for retrying.

Writes (``write``: placeorder, modifyorder) are sent once.  After the request may have left, a
failure is ``BrokerOutcomeUnknown``; only failures that prove nothing was acted on (connect error,
auth or session refusal, 429, a refusal by something in front of OpenAlgo) say "not done".

Reads (``read``; the cancel uses it too, as a repeat is harmless) are retried on timeouts,
connection errors, 5xx and unreadable answers with exponential backoff, then end in
``BrokerUnavailable``.  429: when the broker asks for a wait no longer than ``max_read_wait`` the
read waits and tries again; a longer wait raises ``BrokerRateLimited`` at once and (``block``)
remembers a per-endpoint "not before" time until which reads of that endpoint raise without
calling.  OpenAlgo sends ``retry_after`` in the body; a ``Retry-After`` header is honoured too.

The api key is sent in request bodies only; ``text()`` scrubs it from any message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from positions.broker.base import (
    BrokerOrderNotFound,
    BrokerOutcomeUnknown,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
)
from positions.broker.openalgo_rows import to_decimal

log = structlog.get_logger(__name__)

# Failures of the connect phase: the request never left, so nothing can have been acted on.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

OK = "ok"
REJECTED = "rejected"  # 4xx (or 200 "error") from OpenAlgo: refused, nothing done
NOT_FOUND = "not_found"  # 404 from OpenAlgo: no such order (or contract)
AUTH = "auth"  # 401/403: bad api key or expired broker session, nothing done
RATE_LIMITED = "rate_limited"  # 429, nothing done
GATEWAY = "gateway"  # 3xx/4xx without OpenAlgo's JSON: something in front of it refused
SERVER_ERROR = "server_error"  # 5xx: it may have acted
UNREADABLE = "unreadable"  # 2xx that is not OpenAlgo's JSON success/error


@dataclass(frozen=True)
class Answer:
    kind: str
    code: int
    message: str
    payload: dict | None = None
    retry_after: float | None = None

    @property
    def data(self) -> Any:
        return (self.payload or {}).get("data")


class ServerError(Exception):
    """A 5xx answer to a read that asked not to retry them (``read(..., retry_server_errors=False)``)."""


def retry_after(response: httpx.Response, payload: dict | None) -> float | None:
    """Seconds to wait from the body's ``retry_after`` or the ``Retry-After`` header (None: unsaid)."""
    seconds = to_decimal((payload or {}).get("retry_after"))
    if seconds is None:
        header = response.headers.get("Retry-After", "").strip()
        seconds = to_decimal(header)
        if seconds is None and header:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None if seconds is None else max(0.0, float(seconds))


def _raise_refusal(answer: Answer, order_endpoint: bool) -> None:
    """Raise for an answer that says nothing was done: auth/session, gateway, not found, refused.
    ``order_endpoint``: a 404 means "no such order" rather than a refusal."""
    if answer.kind in (AUTH, GATEWAY):
        raise BrokerUnavailable(answer.message)
    if answer.kind == NOT_FOUND and order_endpoint:
        raise BrokerOrderNotFound(answer.message)
    if answer.kind in (REJECTED, NOT_FOUND):
        raise BrokerRejected(answer.message)


class OpenAlgoHttp:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: httpx.Timeout,
        transport: httpx.BaseTransport | None,
        read_retries: int,
        retry_backoff: float,
        max_read_wait: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._api_key = api_key
        self.read_retries = read_retries
        self.retry_backoff = retry_backoff
        self.max_read_wait = max_read_wait
        self._sleep = sleep
        self._clock = clock
        self._not_before: dict[str, float] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=f"{base_url}/api/v1/", timeout=timeout, transport=transport,
                                    headers={"Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ writes

    def write(self, endpoint: str, fields: dict[str, Any], *, order_endpoint: bool) -> dict:
        """Send once; the success payload, or the typed error (see the module docstring)."""
        try:
            answer = self.post(endpoint, fields)
        except NOT_SENT as exc:
            raise BrokerUnavailable(self.text(f"{endpoint}: not sent ({type(exc).__name__})")) from None
        except httpx.HTTPError as exc:
            log.warning("broker_outcome_unknown", endpoint=endpoint, error=type(exc).__name__)
            raise BrokerOutcomeUnknown(
                self.text(f"{endpoint}: no answer after sending ({type(exc).__name__})")) from None
        if answer.kind == OK:
            return answer.payload or {}
        if answer.kind == RATE_LIMITED:
            raise BrokerRateLimited(answer.message, retry_after=answer.retry_after)
        _raise_refusal(answer, order_endpoint)
        log.warning("broker_outcome_unknown", endpoint=endpoint, status_code=answer.code, kind=answer.kind)
        raise BrokerOutcomeUnknown(answer.message)

    # ------------------------------------------------------------------ reads

    def read(self, endpoint: str, fields: dict[str, Any], *, order_endpoint: bool = False,
             retry_server_errors: bool = True, block: bool = True) -> Any:
        """POST a read and return the answer's ``data``, retrying what is worth retrying."""
        self._check_not_before(endpoint)
        attempts = self.read_retries + 1
        failure: BrokerUnavailable | None = None
        for attempt in range(attempts):
            delay = self.retry_backoff * (2**attempt)
            try:
                answer = self.post(endpoint, fields)
            except httpx.HTTPError as exc:
                failure = BrokerUnavailable(self.text(f"{endpoint}: {type(exc).__name__}"))
            else:
                if answer.kind == OK:
                    return answer.data
                _raise_refusal(answer, order_endpoint)
                if answer.kind == SERVER_ERROR and not retry_server_errors:
                    raise ServerError(answer.message)
                failure = BrokerUnavailable(answer.message)
                if answer.kind == RATE_LIMITED:
                    wait = answer.retry_after
                    failure = BrokerRateLimited(answer.message, retry_after=wait)
                    if wait is not None and wait > self.max_read_wait:
                        self._give_up(endpoint, failure, block)
                    delay = delay if wait is None else wait
            if attempt + 1 < attempts:
                log.info("broker_read_retry", endpoint=endpoint, attempt=attempt + 1, reason=str(failure),
                         delay=delay)
                self._sleep(delay)
        assert failure is not None
        failure.args = (f"{failure.args[0]} (after {attempts} attempts)",)
        self._give_up(endpoint, failure, block)
        raise AssertionError("unreachable")  # pragma: no cover

    def _give_up(self, endpoint: str, failure: BrokerUnavailable, block: bool) -> None:
        wait = getattr(failure, "retry_after", None)
        if block and wait is not None:
            with self._lock:
                self._not_before[endpoint] = self._clock() + wait
            log.warning("broker_rate_limited", endpoint=endpoint, retry_after=wait)
        raise failure

    def _check_not_before(self, endpoint: str) -> None:
        with self._lock:
            until = self._not_before.get(endpoint)
            now = self._clock()
            if until is None:
                return
            if now >= until:
                del self._not_before[endpoint]
                return
        raise BrokerRateLimited(f"{endpoint}: rate limited, not calling for another {until - now:.1f}s",
                                retry_after=until - now)

    # ------------------------------------------------------------------ one request

    def post(self, endpoint: str, fields: dict[str, Any]) -> Answer:
        """One POST (httpx errors propagate) and its answer's kind."""
        response = self._client.post(endpoint, json={"apikey": self._api_key, **fields})
        try:
            payload = response.json()
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else None
        code = response.status_code
        message = self._message(endpoint, response, payload)
        if code == 429:
            return Answer(RATE_LIMITED, code, message, payload, retry_after(response, payload))
        if code >= 500:
            return Answer(SERVER_ERROR, code, message, payload)
        if code in (401, 403):
            return Answer(AUTH, code, message, payload)
        if not 200 <= code < 300 and (payload is None or code < 400):
            return Answer(GATEWAY, code, message, payload)
        if code == 404:
            return Answer(NOT_FOUND, code, message, payload)
        if code >= 400:
            return Answer(REJECTED, code, message, payload)
        status = str((payload or {}).get("status", "")).lower()
        if status == "error":
            return Answer(REJECTED, code, message, payload)
        if status == "success":
            return Answer(OK, code, message, payload)
        return Answer(UNREADABLE, code, message, payload)

    def _message(self, endpoint: str, response: httpx.Response, payload: dict | None) -> str:
        detail = ""
        if payload is not None:
            detail = str(payload.get("message") or payload.get("status") or "")
        elif response.content:
            detail = "unreadable body"
        text = f"{endpoint}: HTTP {response.status_code}"
        return self.text(f"{text}: {detail[:300]}" if detail else text)

    def text(self, text: str) -> str:
        """Scrub the api key from text that may echo server or library messages."""
        return text.replace(self._api_key, "***")
