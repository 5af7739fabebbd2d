"""gunicorn's logger with the webhook URL token redacted from every access-log field (DESIGN §15.4).

The access line carries the request line, the path, the raw URI and the referer; the production
config routes it through the structured formatter (which redacts too), the embedded demo prints
gunicorn's plain format, so the fields themselves are redacted here, whatever the format.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.logging import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}
