"""Template filters over ``core.formatting``: ``{{ value|money }}``, ``{{ value|pnl }}`` (coloured),
``{{ value|price:tick }}``, ``{{ value|percent }}``, ``{{ value|r_multiple }}``, ``{{ value|ist }}``,
``{{ value|time_of_day }}``, ``{{ value|age }}``."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from core import formatting

register = template.Library()

# One-argument filters are the formatting functions themselves.
for _name, _function in {"money": formatting.format_money, "r_multiple": formatting.format_r,
                         "ist": formatting.format_timestamp, "time_of_day": formatting.format_time_of_day,
                         "age": formatting.format_age}.items():
    register.filter(_name, _function)


def pnl_html(value):
    """Signed money in a span coloured by its sign (classes in core/static/core/pm.css)."""
    if formatting.to_decimal(value) is None:
        return formatting.DASH
    return format_html('<span class="{}">{}</span>', formatting.pnl_class(value),
                       formatting.format_money(value, sign=True))


register.filter("pnl", pnl_html)


@register.filter
def price(value, tick=None):
    return formatting.format_price(value, tick)


@register.filter
def percent(value, places=2):
    return formatting.format_percent(value, int(places))
