"""A worker's claim on a signal is extended while it works (DESIGN §15.1), so only dead or stalled
workers' claims expire and are taken back by the sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from signals.claims import claim_kept
from signals.models import SignalLog
from tests.cluster import wait_until
from tests.factories import make_signal

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_held_by_a_working_worker_keeps_moving_on(portfolio, settings):
    settings.PM_SIGNAL_CLAIM_SECONDS = 3
    first = timezone.now() + timedelta(seconds=3)
    signal = make_signal(status="processing", processed_by="me:1:abcd", claim_expires_at=first)
    with claim_kept(signal.pk, "me:1:abcd"):
        wait_until(lambda: SignalLog.objects.get(pk=signal.pk).claim_expires_at > first, timeout=10,
                   what="the claim to be extended")


def test_a_claim_taken_by_someone_else_is_not_extended(portfolio, settings):
    settings.PM_SIGNAL_CLAIM_SECONDS = 3
    expires = timezone.now() + timedelta(seconds=3)
    signal = make_signal(status="processing", processed_by="other:2:ef01", claim_expires_at=expires)
    other = make_signal(status="processing", processed_by="me:1:abcd", claim_expires_at=expires)
    with claim_kept(signal.pk, "me:1:abcd"), claim_kept(other.pk, "me:1:abcd"):
        wait_until(lambda: SignalLog.objects.get(pk=other.pk).claim_expires_at > expires, timeout=10,
                   what="a claim of ours to be extended")
    assert SignalLog.objects.get(pk=signal.pk).claim_expires_at == expires
