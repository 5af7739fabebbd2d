"""Django's date formats for this project (FORMAT_MODULE_PATH): every timestamp in the admin shows in
IST with the zone, the same way ``core.formatting.format_timestamp`` writes it."""

from core.formatting import DJANGO_DATETIME_FORMAT, DJANGO_SHORT_DATETIME_FORMAT

DATETIME_FORMAT = DJANGO_DATETIME_FORMAT
SHORT_DATETIME_FORMAT = DJANGO_SHORT_DATETIME_FORMAT
DATE_FORMAT = "d M Y"
