"""gunicorn for the embedded demo: one process (in-process locks and the eager task queue need
exactly one), a few threads so the admin stays responsive while a webhook executes."""

bind = "127.0.0.1:8000"
workers = 1
threads = 4
worker_class = "gthread"
graceful_timeout = 30
timeout = 60
accesslog = "-"
