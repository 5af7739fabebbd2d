"""Admin login is throttled (django-axes, DESIGN §15.4): after ADMIN_LOGIN_FAILURE_LIMIT failures in a
row an address is locked out with a page that says so, even for the right password; other addresses
are not; an administrator can lift it; signing in (and the test client's force_login) is unaffected."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"


def attempt(client, password, address="203.0.113.7", **extra):
    return client.post(LOGIN, {"username": "ops", "password": password}, REMOTE_ADDR=address, **extra)


def test_lockout_after_the_failure_limit_with_a_clear_message(client, ops_user):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # ADMIN_LOGIN_FAILURE_LIMIT's default
    for _ in range(limit - 1):
        page = attempt(client, "wrong")
        assert page.status_code == 200 and "Please enter the correct username and password" in page.content.decode()
    locked = attempt(client, "wrong")
    assert locked.status_code == 429 and locked["Retry-After"] == str(settings.ADMIN_LOGIN_COOLOFF_MINUTES * 60)
    text = locked.content.decode()
    assert "Too many failed logins" in text and "5 login attempts in a row failed" in text
    assert "blocked for 15 minutes" in text and "axes_reset_ip 203.0.113.7" in text

    right = attempt(client, "pw")  # the right password does not get through a lockout
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert attempt(client, "pw", address="198.51.100.9").status_code == 302  # another address is not locked

    call_command("axes_reset_ip", "203.0.113.7")
    assert attempt(client, "pw").status_code == 302


def test_the_address_behind_the_proxy_is_the_one_locked(client, ops_user, settings):
    settings.PM_TRUSTED_PROXY_COUNT = 1  # nginx in front: every request comes from its address
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "wrong", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert attempt(client, "pw", address="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    other = attempt(client, "pw", address="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert other.status_code == 302  # the proxy itself is not locked out


def test_a_success_resets_the_count(client, ops_user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    assert attempt(client, "pw").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    assert attempt(client, "pw").status_code == 302
