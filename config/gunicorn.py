"""gunicorn for production instances (DESIGN §11): graceful 30 s drain, readiness 503 first,
instance registration and heartbeats per worker, Prometheus multiprocess metrics."""

import os
import shutil
import signal
import tempfile


def _structured_logging(log_format: str) -> dict:
    from config.logging import build_logging

    config = build_logging(log_format)
    config["loggers"].update({name: {"handlers": ["console"], "level": "INFO", "propagate": False}
                              for name in ("gunicorn.error", "gunicorn.access")})
    return config


bind = os.environ.get("PM_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
graceful_timeout = 30
timeout = 30
keepalive = 5
# Several instances share a host: a shared default control socket path would collide.
control_socket_disable = True
accesslog = None  # the webhook logs one structured line per request itself
# (gunicorn still writes access lines to "gunicorn.access" when logconfig_dict is set: they go
# through the structured formatter, and this logger redacts the webhook URL token from them.)
logger_class = "config.gunicorn_logging.RedactingLogger"
errorlog = "-"
# gunicorn's own messages go through the same structlog formatter (one JSON object per line).
logconfig_dict = _structured_logging(os.environ.get("LOG_FORMAT", "json"))

if workers > 1:
    # Several worker processes share one metrics view through prometheus-client's multiprocess mode.
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"pm-prometheus-{bind.replace(':', '_')}")
    )


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def post_worker_init(worker):
    from core.runtime import runtime

    port = int(bind.rsplit(":", 1)[1]) if ":" in bind else None
    runtime.start(role="web", port=port)
    previous = signal.getsignal(signal.SIGTERM)

    def readiness_first(signum, frame):
        runtime.begin_shutdown()  # /ready answers 503 from now on; in-flight requests finish
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, readiness_first)


def worker_exit(server, worker):
    from core.runtime import runtime

    runtime.stop()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
