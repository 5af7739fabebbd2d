"""``manage.py reconcile_broker`` and ``POST /api/reconcile/``: exit codes, output, authentication."""

from __future__ import annotations

import io
import json
from unittest import mock

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from positions.broker import BrokerUnavailable
from positions.broker.factory import set_broker_override
from reconciliation.models import Discrepancy, ReconciliationRun
from tests.reconciliation.helpers import CONSISTENT_BOOK, GOLD, PaperBook, fill, shared_contracts

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(portfolio):
    book = PaperBook()
    set_broker_override(book.broker)
    shared_contracts()
    return book


def reconcile_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile_broker", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_command_exit_0_and_table_when_all_matched(paper):
    fill(paper, CONSISTENT_BOOK)
    code, out = reconcile_command()
    assert code == 0
    assert "MATCHED" in out and GOLD in out and "SYMBOL" in out
    assert ReconciliationRun.objects.get().trigger == "command"


def test_command_exit_1_with_json_report_on_discrepancies(paper):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5, ("RELIANCE", "NSE"): 3})
    code, out = reconcile_command("--json")
    assert code == 1
    report = json.loads(out)
    assert report["outcome"] == "discrepancies" and report["run_id"] == ReconciliationRun.objects.get().pk
    assert [(i["symbol"], i["kind"], i["expected"], i["broker"]) for i in report["items"] if i["kind"] != "matched"] == [
        (GOLD, "mismatch", 7, 5)]
    assert report["other_symbols"] == [{"symbol": "RELIANCE", "exchange": "NSE", "broker": 3}]


def test_command_table_lists_every_symbol_with_both_quantities(paper):
    fill(paper, {**CONSISTENT_BOOK, ("SILVERM27FEB26FUT", "MCX"): 2})
    code, out = reconcile_command()
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("GOLDM", "SILVERM"))}
    assert code == 1
    assert lines["SILVERM27FEB26FUT"] == ["SILVERM27FEB26FUT", "MCX", "SILVER_MINI", "0", "2", "missing"]
    assert lines[GOLD][:6] == [GOLD, "MCX", "GOLD_MINI", "7", "7", "matched"]


def test_command_exit_2_when_the_broker_cannot_be_read(paper):
    with mock.patch.object(type(paper.broker), "positions", side_effect=BrokerUnavailable("session expired")):
        code, out = reconcile_command()
    assert code == 2 and "BROKER_UNAVAILABLE" in out and "session expired" in out
    assert ReconciliationRun.objects.get().outcome == "broker_unavailable"


def test_command_dry_run_writes_nothing(paper):
    code, out = reconcile_command("--dry-run", "--json")
    assert code == 1 and json.loads(out)["run_id"] is None
    assert not ReconciliationRun.objects.exists() and not Discrepancy.objects.exists()
    code, out = reconcile_command("--dry-run")
    assert code == 1 and "dry run, not recorded" in out


def test_api_runs_a_manual_reconciliation_for_the_user(paper, staff_api):
    fill(paper, {**CONSISTENT_BOOK, (GOLD, "MCX"): 5})
    response = staff_api.post("/api/reconcile/")
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "discrepancies"
    assert [(i["symbol"], i["kind"]) for i in body["items"] if i["kind"] != "matched"] == [(GOLD, "mismatch")]
    run = ReconciliationRun.objects.get()
    assert (run.pk, run.trigger, run.requested_by) == (body["run_id"], "manual", "ops")


def test_api_answers_503_with_the_report_when_the_broker_is_down(paper, staff_api):
    with mock.patch.object(type(paper.broker), "positions", side_effect=BrokerUnavailable("down")):
        response = staff_api.post("/api/reconcile/")
    assert response.status_code == 503
    assert response.json()["outcome"] == "broker_unavailable" and response.json()["run_id"]


def test_api_needs_staff(paper, viewer_api):
    response = APIClient().post("/api/reconcile/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert viewer_api.post("/api/reconcile/").status_code == 403
    assert not ReconciliationRun.objects.exists()
