"""Container health check: GET /ready on the address gunicorn binds (PM_BIND).  Standard library only.

Exit 0 when /ready answers 200, 1 otherwise (503 with a reason, refused, timeout)."""

import os
import sys
import urllib.request

host, _, port = os.environ.get("PM_BIND", "0.0.0.0:8000").rpartition(":")
if host in ("", "0.0.0.0", "[::]", "::"):
    host = "127.0.0.1"
try:
    with urllib.request.urlopen(f"http://{host}:{port}/ready", timeout=2.5) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # HTTPError (503), URLError, timeout: all mean "not ready"
    print(f"not ready: {exc}", file=sys.stderr)
    sys.exit(1)
