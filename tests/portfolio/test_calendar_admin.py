"""The market calendar in the back office: the holiday import form (its own permission, audited, all or
nothing), audited edits, and the calendar box on the admin index."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import OpsAuditLog
from portfolio.models import ExchangeSession, Holiday
from portfolio.sessions import IST

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:portfolio_holiday_import"


def _upload(text: str, name: str = "holidays.csv") -> dict:
    return {"file": SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")}


@pytest.fixture
def clerk(client, django_user_model):
    """Staff who may view holidays but hold no import permission."""
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_holiday"))
    client.force_login(user)
    return client, user


def test_importing_needs_its_own_permission(clerk):
    client, user = clerk
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert client.post(reverse(IMPORT_URL), _upload("NFO,2027-01-26,Republic Day\n")).status_code == 403
    assert "Import CSV" not in client.get(reverse("admin:portfolio_holiday_changelist")).content.decode()
    user.user_permissions.add(Permission.objects.get(codename="import_holidays"))
    client.force_login(user)  # fresh permission cache
    assert "Import CSV" in client.get(reverse("admin:portfolio_holiday_changelist")).content.decode()
    response = client.post(reverse(IMPORT_URL), _upload("NFO,2027-01-26,Republic Day\n", "nse-2027.csv"))
    assert response.status_code == 302
    assert Holiday.objects.filter(exchange="NFO", date=date(2027, 1, 26)).exists()
    audit = OpsAuditLog.objects.get(action="holidays_import")
    assert audit.actor == "clerk" and audit.details["source"] == "nse-2027.csv"


def test_a_malformed_upload_lists_the_lines_and_imports_nothing(ops_admin):
    before = Holiday.objects.count()
    response = ops_admin.post(reverse(IMPORT_URL), _upload(
        "exchange,date,description\nNFO,2027-01-26,ok\nNFO,2027-02-30,no such day\nXYZ,2027-03-01,bad\n"))
    page = response.content.decode()
    assert response.status_code == 200 and "2 problem(s): nothing was imported" in page
    assert "<td>3</td><td>date must be YYYY-MM-DD" in page and "<td>4</td><td>exchange must be one of" in page
    assert Holiday.objects.count() == before and not OpsAuditLog.objects.filter(action="holidays_import").exists()


def test_an_upload_that_is_not_utf8_is_refused(ops_admin):
    response = ops_admin.post(reverse(IMPORT_URL), {"file": SimpleUploadedFile("x.csv", b"NFO,2027-01-26,Caf\xe9\n")})
    assert response.status_code == 200 and "not UTF-8" in response.content.decode()


def test_a_partial_holiday_needs_an_exchange_with_an_evening_session(ops_admin):
    url = reverse("admin:portfolio_holiday_add")
    response = ops_admin.post(url, {"exchange": "NFO", "date": "2027-03-22", "description": "Holi",
                                    "closed": "morning"})
    assert response.status_code == 200 and "NFO has a single session" in response.content.decode()
    response = ops_admin.post(url, {"exchange": "MCX", "date": "2027-03-22", "description": "Holi",
                                    "closed": "morning"})
    assert response.status_code == 302
    holiday = Holiday.objects.get(exchange="MCX", date=date(2027, 3, 22))
    audit = OpsAuditLog.objects.get(action="holiday_save")
    assert audit.target_id == str(holiday.pk) and audit.actor == "ops"


def test_session_edits_are_validated_and_audited(ops_admin):
    url = reverse("admin:portfolio_exchangesession_change", args=["MCX"])
    fields = {"opens": "09:00", "closes": "23:55", "closes_us_dst": "23:30", "evening_opens": "17:00"}
    response = ops_admin.post(url, {**fields, "evening_opens": "23:45"})
    assert response.status_code == 200 and "must fall strictly between" in response.content.decode()
    response = ops_admin.post(url, {**fields, "closes_us_dst": "23:35"})
    assert response.status_code == 302
    assert ExchangeSession.objects.get(exchange="MCX").closes_us_dst == time(23, 35)
    assert OpsAuditLog.objects.get(action="exchange_session_save").details == {"changed": ["closes_us_dst"]}


def test_deletes_are_audited(ops_admin):
    holiday = Holiday.objects.create(exchange="NFO", date=date(2027, 1, 26), description="Republic Day")
    response = ops_admin.post(reverse("admin:portfolio_holiday_delete", args=[holiday.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Holiday.objects.filter(pk=holiday.pk).exists()
    assert OpsAuditLog.objects.get(action="holiday_delete").target_id == str(holiday.pk)


@time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=IST))
def test_the_admin_index_shows_the_calendar_and_its_warnings(ops_admin, settings):
    settings.PM_MARKET_SESSIONS = False
    page = ops_admin.get(reverse("admin:index")).content.decode()
    assert 'id="market-calendar"' in page and "Sessions off" in page and "NFO open" in page
    assert "holidays on record" not in page  # the current year's lists are shipped
    Holiday.objects.filter(exchange="MCX").delete()
    settings.PM_MARKET_SESSIONS = True
    page = ops_admin.get(reverse("admin:index")).content.decode()
    assert "Sessions enforced" in page
    assert "no MCX holidays on record for" in page and "no NFO holidays" not in page
