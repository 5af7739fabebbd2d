"""gunicorn for the embedded demo: one process (in-process locks and the eager task queue need
exactly one), a few threads so the admin stays responsive while a webhook executes."""

bind = "127.0.0.1:8000"
workers = 1
threads = 4
worker_class = "gthread"
graceful_timeout = 30
timeout = 60
# Several instances share a host: a shared default control socket path would collide.
control_socket_disable = True
accesslog = "-"
logger_class = "config.gunicorn_logging.RedactingLogger"  # no webhook URL token in access lines


def post_worker_init(worker):
    from core.runtime import runtime
    from recovery.jobs import start_embedded_jobs

    runtime.start(role="web", port=int(worker.cfg.bind[0].rsplit(":", 1)[1]))
    start_embedded_jobs()


def worker_exit(server, worker):
    from core.runtime import runtime

    runtime.stop()
