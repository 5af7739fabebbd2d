"""Template tags for the back office: the open-discrepancy banner on the admin index."""

from __future__ import annotations

from django import template

from reconciliation.selectors import halted_instruments

register = template.Library()


@register.simple_tag
def open_discrepancies() -> dict:
    """{"total": n, "instruments": {code: count}} of OPEN discrepancies (each halts its instrument)."""
    halted = halted_instruments()
    return {"total": sum(halted.values()), "instruments": halted}
