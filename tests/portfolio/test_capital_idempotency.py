"""A deposit or withdrawal submitted twice books once (DESIGN §15.4): the admin form's one-time token,
the API's idempotency key, and two concurrent submits of one key, held by the unique constraint and
the portfolio row lock."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from core.models import OpsAuditLog
from portfolio.models import CapitalTransaction, PortfolioState
from portfolio.services import capital_flow_record
from tests.portfolio.test_admin import form_token

ADD = "/admin/portfolio/capitaltransaction/add/"


def deposits():
    return list(CapitalTransaction.objects.filter(kind="DEPOSIT").exclude(note="Opening capital")
                .values_list("amount", flat=True))


def test_the_admin_form_submitted_twice_books_once(portfolio, ops_admin):
    data = {"kind": "DEPOSIT", "amount": "250000", "note": "top-up", "token": form_token(ops_admin)}
    first = ops_admin.post(ADD, data)
    second = ops_admin.post(ADD, data, follow=True)  # the browser resends the same page
    assert first.status_code == 302 and second.status_code == 200
    assert "already submitted: booked once" in second.content.decode()
    assert deposits() == [Decimal("250000.00")]
    assert PortfolioState.objects.get().closed_equity == Decimal("5250000.00")
    assert OpsAuditLog.objects.filter(action="capital_deposit").count() == 1
    ops_admin.post(ADD, {**data, "token": form_token(ops_admin)})  # a new form is a new deposit
    assert deposits() == [Decimal("250000.00")] * 2


def test_the_admin_form_needs_its_token(portfolio, ops_admin):
    for token in ("", "not-a-token"):
        page = ops_admin.post(ADD, {"kind": "DEPOSIT", "amount": "100", "token": token})
        assert page.status_code == 200 and "(nothing was booked)" in page.content.decode()
    assert deposits() == []


def test_the_api_key_books_once_and_replays_the_first_answer(portfolio, staff_api):
    body = {"amount": "100000.00", "note": "top-up"}
    first = staff_api.post("/api/capital/deposit", body, format="json", HTTP_IDEMPOTENCY_KEY="deposit-2026-01-07")
    again = staff_api.post("/api/capital/deposit", body, format="json", HTTP_IDEMPOTENCY_KEY="deposit-2026-01-07")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.json()["amount"] == "100000.00" and first.json()["equity_after"] == "5100000.00"
    assert deposits() == [Decimal("100000.00")]
    field = staff_api.post("/api/capital/deposit", {**body, "idempotency_key": "deposit-2026-01-07"}, format="json")
    assert field.status_code == 200  # the key may also come as a field


def test_the_api_refuses_a_missing_or_reused_key(portfolio, staff_api):
    missing = staff_api.post("/api/capital/deposit", {"amount": "100"}, format="json")
    assert missing.status_code == 400 and "idempotency_key" in missing.json()
    staff_api.post("/api/capital/deposit", {"amount": "100"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other_amount = staff_api.post("/api/capital/deposit", {"amount": "200"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other_kind = staff_api.post("/api/capital/withdraw", {"amount": "100"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert other_amount.status_code == other_kind.status_code == 409
    assert deposits() == [Decimal("100.00")]
    too_much = staff_api.post("/api/capital/withdraw", {"amount": "99999999"}, format="json",
                              HTTP_IDEMPOTENCY_KEY="w")
    assert too_much.status_code == 400 and "exceeds closed equity" in too_much.json()["amount"][0]


def test_the_key_is_unique_in_the_database(portfolio):
    capital_flow_record(kind="DEPOSIT", amount="10", actor="ops", idempotency_key="admin-form:x")
    row = CapitalTransaction.objects.get(idempotency_key="admin-form:x")
    with pytest.raises(IntegrityError), transaction.atomic():
        CapitalTransaction.objects.create(kind="DEPOSIT", amount=10, equity_before=row.equity_after,
                                          equity_after=row.equity_after + 10, created_by="x",
                                          idempotency_key="admin-form:x")


def test_two_concurrent_submits_of_one_key_book_once(live_portfolio):
    barrier, results = threading.Barrier(2), []

    def submit():
        try:
            barrier.wait(timeout=10)
            results.append(capital_flow_record(kind="DEPOSIT", amount="5000", actor="ops",
                                               idempotency_key="api:1:double-click")[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True]
    assert deposits() == [Decimal("5000.00")]
    assert PortfolioState.objects.get().closed_equity == Decimal("5005000.00")
    assert OpsAuditLog.objects.filter(action="capital_deposit").count() == 1
