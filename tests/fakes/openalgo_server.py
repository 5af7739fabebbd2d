"""A stateful fake OpenAlgo server over real HTTP (stdlib WSGI, one thread per request).

API:  ``POST /api/v1/<endpoint>`` (with or without a trailing slash) with ``"apikey"`` in the JSON
body, as OpenAlgo: placeorder, modifyorder, cancelorder, orderstatus, orderbook, tradebook,
positionbook, quotes, symbol, funds, ping, analyzer, analyzer/toggle.  Faithful by default (see
``openalgo_config`` for the switches and ``openalgo_book`` for the rules); a lost answer closes the
connection without any HTTP response.

Control (no api key; JSON bodies; every answer is {"status": "success", ...} or 400/404):
  GET  /_fake/state                 -> orders, positions, trades, sandbox{...}, pending, config,
                                       prices, faults, requests, bodies (api key removed), clock, holidays
  GET  /_fake/config                -> {"config": {...}}
  POST /_fake/config                {<switch>: value, ..., "friendly"?: bool, "seed"?: int} -> {"config"}
  POST /_fake/reset                 {}
  POST /_fake/price                 {"symbol", "price"}
  POST /_fake/fault                 {"endpoint", "mode", "count" (null: until cleared), ...params}
  POST /_fake/clear_faults          {}
  POST /_fake/clock                 {"at": ISO text | null, "running"?: bool}  -> {"now"}
  POST /_fake/holidays              {"dates": ["YYYY-MM-DD", ...], "exchange"?: "NFO" | null,
                                     "closed"?: "full" | "morning" | "evening"}
  POST /_fake/symbol                {"symbol", "exchange", "lotsize", ...details}
  POST /_fake/plan_fills            {"now", "rest"?: later|never|cancel, "after"?, "symbol"?, "count"?}
  POST /_fake/clear_plans           {}
  POST /_fake/fill                  {"order_id"?}                       -> {"filled": [ids]}
  POST /_fake/fill_order            {"order_id", "quantity"?}           -> {"filled_quantity": n}
  POST /_fake/cancel_remainder      {"order_id"}
  POST /_fake/transient             {"order_id", "seconds"?, "error"?}  (one order, now)
  POST /_fake/force_transient       {"count"?, "seconds"?, "error"?}    (the next orders placed)
  POST /_fake/lose_answers          {"count"?}
  GET  /_fake/pending               -> {"pending": [...]}
  POST /_fake/approve               {"pending_id"}                      -> {"orderid"}
  POST /_fake/decline               {"pending_id"}
  POST /_fake/position              {"symbol", "exchange", "quantity", "average_price"?, "product"?}

Run in-process (``with FakeOpenAlgo(api_key=..., **switches) as fake: fake.url``) or as a process:
``python -m tests.fakes.openalgo_server --port 5900 --apikey K [--no-sessions] [--friendly]
[--mcx-quantity lots|units] [--semi-auto] [--analyzer] [--lost-answer-rate R]
[--partial-fill-rate R] [--partial-fill-delay S] [--transient-rate R] [--trade-lag-reads N]
[--order-rate-limit N] [--api-rate-limit N] [--seed N]`` prints ``READY <url>`` once it listens and
exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import socketserver
import sys
import threading
from decimal import Decimal
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tests.fakes.openalgo_book import DEFAULT_PRICE, INVALID_JSON, OpenAlgoBook, Reply

API_PREFIX = "/api/v1/"
CONTROL_PREFIX = "/_fake/"
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error"}


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # a request sleeping in a fault must not hold up stop()
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up on slow answers on purpose; stay quiet about it."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ["fake.connection"] = self.connection  # to hang up on a lost answer
        return environ


class FakeOpenAlgo(OpenAlgoBook):
    """The fake's state (see ``OpenAlgoBook`` for the control API) served over HTTP.

    Keyword switches (``friendly=True``, ``sessions=False``, ``mcx_quantity="units"``, ...) are
    those of ``openalgo_config``; ``seed`` makes the random behaviours reproducible.
    """

    def __init__(self, *, api_key: str = "fake-api-key", host: str = "127.0.0.1", port: int = 0,
                 default_price: Decimal = DEFAULT_PRICE, **switches: Any):
        super().__init__(api_key=api_key, default_price=default_price, **switches)
        self.host = host
        self.port = port
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake OpenAlgo is not running")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> FakeOpenAlgo:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = make_server(self.host, self.port, self.wsgi_app,
                                   server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openalgo", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; requests still waiting in a fault are woken and answered."""
        server, self._server = self._server, None
        if server is None:
            return
        self.wake_sleepers()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAlgo:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ WSGI

    def wsgi_app(self, environ: dict, start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(CONTROL_PREFIX):
            reply = self._control(method, path[len(CONTROL_PREFIX):].strip("/"), environ)
        elif path.startswith(API_PREFIX) and method == "POST":
            reply = self.handle(path[len(API_PREFIX):].strip("/"), _read_json(environ, INVALID_JSON))
        elif path.startswith(API_PREFIX):
            reply = Reply(405, {"status": "error", "message": "Method not allowed"})
        else:
            reply = Reply(404, {"status": "error", "message": "Not found"})
        if reply.drop:
            _hang_up(environ.get("fake.connection"))
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        content_type = "text/html" if isinstance(reply.body, bytes) else "application/json"
        start_response(f"{reply.status or 500} {_REASONS.get(reply.status, 'Unknown')}",
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, method: str, action: str, environ: dict) -> Reply:
        if method == "GET" and action in ("state", "config", "pending"):
            views = {"state": self.state, "config": lambda: {"config": self.config()},
                     "pending": lambda: {"pending": self.pending_orders()}}
            return Reply(200, views[action]())
        if method != "POST":
            return Reply(405, {"status": "error", "message": "Method not allowed"})
        body = _read_json(environ, None)
        if not isinstance(body, dict):
            return Reply(400, {"status": "error", "message": "control body must be a JSON object"})
        handler = getattr(self, f"_control_{action}", None)
        if handler is None:
            return Reply(404, {"status": "error", "message": f"unknown control action {action}"})
        try:
            result = handler(body)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            return Reply(400, {"status": "error", "message": f"{type(exc).__name__}: {exc}"})
        return Reply(200, {"status": "success", **(result or {})})

    # One method per control action: body (a dict) -> extra answer fields (or None).
    def _control_config(self, b: dict) -> dict:
        return {"config": self.configure(**b)}

    def _control_reset(self, b: dict) -> None:
        self.reset()

    def _control_price(self, b: dict) -> None:
        self.set_price(b["symbol"], b["price"])

    def _control_fault(self, b: dict) -> None:
        params = {k: v for k, v in b.items() if k not in ("endpoint", "mode", "count")}
        self.set_fault(b["endpoint"], b["mode"], b.get("count", 1), **params)

    def _control_clear_faults(self, b: dict) -> None:
        self.clear_faults()

    def _control_clock(self, b: dict) -> dict:
        self.set_clock(b.get("at"), bool(b.get("running", False)))
        return {"now": self.now().isoformat()}

    def _control_holidays(self, b: dict) -> None:
        self.set_holidays(list(b["dates"]), b.get("exchange"), b.get("closed") or "full")

    def _control_symbol(self, b: dict) -> None:
        self.add_symbol(**b)

    def _control_plan_fills(self, b: dict) -> None:
        self.plan_fills(**b)

    def _control_clear_plans(self, b: dict) -> None:
        self.clear_plans()

    def _control_fill(self, b: dict) -> dict:
        return {"filled": self.fill_pending(b.get("order_id"))}

    def _control_fill_order(self, b: dict) -> dict:
        return {"filled_quantity": self.fill_order(b["order_id"], b.get("quantity"))}

    def _control_cancel_remainder(self, b: dict) -> None:
        self.cancel_remainder(b["order_id"])

    def _control_transient(self, b: dict) -> None:
        self.set_transient(b["order_id"], b.get("seconds"), bool(b.get("error", False)))

    def _control_force_transient(self, b: dict) -> None:
        self.force_transient(int(b.get("count", 1)), b.get("seconds"), bool(b.get("error", False)))

    def _control_lose_answers(self, b: dict) -> None:
        self.lose_answers(int(b.get("count", 1)))

    def _control_approve(self, b: dict) -> dict:
        return {"orderid": self.approve(b["pending_id"])}

    def _control_decline(self, b: dict) -> None:
        self.decline(b["pending_id"])

    def _control_position(self, b: dict) -> None:
        self.set_position(b["symbol"], b["exchange"], int(b["quantity"]), b.get("average_price"),
                          b.get("product", "NRML"))


def _hang_up(connection: socket.socket | None) -> None:
    """Close the client's connection before any response byte (the answer is lost)."""
    if connection is None:
        return
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _read_json(environ: dict, invalid: Any) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return json.loads(raw)
    except ValueError:
        return invalid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the fake OpenAlgo server (faithful by default).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--apikey", "--api-key", dest="api_key", default="fake-api-key")
    parser.add_argument("--default-price", default=str(DEFAULT_PRICE))
    parser.add_argument("--friendly", action="store_true", help="every friendly switch on")
    parser.add_argument("--no-sessions", dest="sessions", action="store_false", default=None)
    parser.add_argument("--mcx-quantity", choices=("lots", "units"))
    parser.add_argument("--semi-auto", action="store_true", default=None)
    parser.add_argument("--analyzer", action="store_true", default=None)
    parser.add_argument("--lost-answer-rate", type=float)
    parser.add_argument("--partial-fill-rate", type=float)
    parser.add_argument("--partial-fill-delay", type=float)
    parser.add_argument("--transient-rate", type=float)
    parser.add_argument("--trade-lag-reads", type=int)
    parser.add_argument("--order-rate-limit", type=int, help="per second; 0 turns the limit off")
    parser.add_argument("--api-rate-limit", type=int, help="per second; 0 turns the limit off")
    parser.add_argument("--seed", type=int, default=None, help="reproducible random behaviours")
    args = parser.parse_args(argv)
    names = ("sessions", "mcx_quantity", "semi_auto", "analyzer", "lost_answer_rate", "partial_fill_rate",
             "partial_fill_delay", "transient_rate", "trade_lag_reads", "order_rate_limit", "api_rate_limit")
    switches = {name: getattr(args, name) for name in names if getattr(args, name) is not None}

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    fake = FakeOpenAlgo(api_key=args.api_key, host=args.host, port=args.port, friendly=args.friendly,
                        seed=args.seed, default_price=Decimal(args.default_price), **switches).start()
    print(f"READY {fake.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
