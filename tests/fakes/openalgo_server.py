"""A stateful fake OpenAlgo server over real HTTP (stdlib WSGI, one thread per request).

API:  ``POST /api/v1/<endpoint>`` with ``"apikey"`` in the JSON body, as OpenAlgo (placeorder,
orderstatus, orderbook, tradebook, positionbook, quotes, cancelorder, ping, funds).  Order rows
also carry the order's ``strategy`` (an extension: real OpenAlgo may not echo it).

Control (no api key; for tests):
  POST /_fake/price         {"symbol", "price"}
  POST /_fake/fault         {"endpoint", "mode", "count" (null: until cleared), ...params}
  POST /_fake/clear_faults  {}
  POST /_fake/fill          {"order_id"?}            -> {"filled": [ids]}
  POST /_fake/position      {"symbol", "exchange", "quantity", "average_price"?}
  POST /_fake/reset         {}
  GET  /_fake/state         -> {"orders", "positions", "trades", "prices", "faults", "requests",
                                "bodies" (request bodies per endpoint, api key removed)}

Run in-process (``with FakeOpenAlgo(api_key=...) as fake: fake.url``) or as a process:
``python -m tests.fakes.openalgo_server --port 0 --api-key K`` prints ``READY <url>`` once it
listens and exits cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import socketserver
import sys
import threading
from decimal import Decimal
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tests.fakes.openalgo_book import DEFAULT_PRICE, OpenAlgoBook, Reply

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


class FakeOpenAlgo(OpenAlgoBook):
    """The fake's state (see ``OpenAlgoBook`` for the control API) served over HTTP."""

    def __init__(self, *, api_key: str = "fake-api-key", host: str = "127.0.0.1", port: int = 0,
                 default_price: Decimal = DEFAULT_PRICE):
        super().__init__(api_key=api_key, default_price=default_price)
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
            reply = self._control(method, path[len(CONTROL_PREFIX):], environ)
        elif path.startswith(API_PREFIX) and method == "POST":
            reply = self.handle(path[len(API_PREFIX):].strip("/"), _read_json(environ))
        elif path.startswith(API_PREFIX):
            reply = Reply(405, {"status": "error", "message": "Method not allowed"})
        else:
            reply = Reply(404, {"status": "error", "message": "Not found"})
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        content_type = "text/html" if isinstance(reply.body, bytes) else "application/json"
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Unknown')}",
                       [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, method: str, action: str, environ: dict) -> Reply:
        if action == "state" and method == "GET":
            return Reply(200, self.state())
        if method != "POST":
            return Reply(405, {"status": "error", "message": "Method not allowed"})
        body = _read_json(environ)
        if not isinstance(body, dict):
            return Reply(400, {"status": "error", "message": "control body must be a JSON object"})
        try:
            result = self._control_action(action, body)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            return Reply(400, {"status": "error", "message": f"{type(exc).__name__}: {exc}"})
        if result is None:
            return Reply(404, {"status": "error", "message": f"unknown control action {action}"})
        return Reply(200, {"status": "success", **result})

    def _control_action(self, action: str, body: dict) -> dict | None:
        if action == "price":
            self.set_price(body["symbol"], body["price"])
        elif action == "fault":
            params = {k: v for k, v in body.items() if k not in ("endpoint", "mode", "count")}
            self.set_fault(body["endpoint"], body["mode"], body.get("count", 1), **params)
        elif action == "clear_faults":
            self.clear_faults()
        elif action == "fill":
            return {"filled": self.fill_pending(body.get("order_id"))}
        elif action == "position":
            self.set_position(body["symbol"], body["exchange"], int(body["quantity"]),
                              body.get("average_price"))
        elif action == "reset":
            self.reset()
        else:
            return None
        return {}


def _read_json(environ: dict) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the fake OpenAlgo server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default="fake-api-key")
    parser.add_argument("--default-price", default=str(DEFAULT_PRICE))
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    fake = FakeOpenAlgo(api_key=args.api_key, host=args.host, port=args.port,
                        default_price=Decimal(args.default_price)).start()
    print(f"READY {fake.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
