"""How ops drive rollovers: ``manage.py rollover``, the admin's "roll now" (own permission, confirmation,
audit, safe against a double submit), the rollover list, and the positions API."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from core.models import OpsAuditLog
from positions.models import PaperOrder, Position, Rollover
from tests import payloads
from tests.conftest import Webhook

IST = timezone.get_fixed_timezone(330)
ENTRY_AT = datetime(2026, 1, 20, 11, tzinfo=IST)
ROLL_AT = datetime(2026, 1, 30, 10, tzinfo=IST)  # 6 days before GOLDM05FEB26FUT expires


@pytest.fixture
def gold(live_portfolio, client):
    hook = Webhook(client, timezone.now())
    for moment, payload in ((ENTRY_AT, payloads.entry), (ROLL_AT - timedelta(minutes=5), payloads.bar)):
        with time_machine.travel(moment, tick=True):
            assert hook.post(payload(timestamp=moment - timedelta(minutes=1), price=72500)).status_code == 202
    client.logout()
    return Position.objects.get(status="open")


@pytest.fixture
def clock():
    with time_machine.travel(ROLL_AT, tick=True):
        yield


def run_command(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("rollover", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_the_command_dry_run_lists_the_plan_and_the_run_rolls(gold, clock):
    code, text = run_command("--dry-run", "--json")
    [plan] = json.loads(text)["rollovers"]
    assert (code, plan["outcome"], plan["new"], plan["days_to_expiry"]) == (0, "would_roll", ["GOLDM05MAR26FUT"], 6)
    assert not Rollover.objects.exists()

    code, text = run_command()
    assert code == 0 and "DONE" in text and "GOLDM05FEB26FUT → GOLDM05MAR26FUT" in text
    assert run_command() == (0, "Nothing to roll: no open position is inside its rollover window.\n")


def test_the_command_rolls_one_position_on_demand_and_refuses_an_unknown_one(gold):
    with time_machine.travel(datetime(2026, 1, 21, 10, tzinfo=IST), tick=True):  # far from its window
        code, text = run_command("--position", str(gold.pk), "--json")
    assert code == 0 and json.loads(text)["rollovers"][0]["outcome"] == "done"
    assert OpsAuditLog.objects.filter(action="rollover_now", target_id=str(gold.pk)).count() == 1
    with pytest.raises(Exception, match="no position 999"):
        run_command("--position", "999")


def _roll_now(client, position: Position, **extra):
    data = {"action": "roll_now", "_selected_action": [position.pk], **extra}
    return client.post("/admin/positions/position/", data, follow=True)


def test_roll_now_needs_its_permission_then_confirms_rolls_once_and_is_audited(gold, clock, client,
                                                                             django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_position"))
    client.force_login(clerk)
    before = PaperOrder.objects.count()
    assert 'value="roll_now"' not in client.get("/admin/positions/position/").content.decode()
    refused = _roll_now(client, gold, apply="1", **{f"expiry_{gold.pk}": gold.expiry.isoformat()})
    assert refused.status_code == 403  # refused without it
    assert PaperOrder.objects.count() == before and not Rollover.objects.exists()

    clerk.user_permissions.add(Permission.objects.get(codename="roll_position"))
    confirm = _roll_now(client, gold)
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "GOLDM05MAR26FUT" in page and "Roll now" in page
    assert PaperOrder.objects.count() == before  # the confirmation sends nothing

    submit = {"apply": "1", f"expiry_{gold.pk}": "2026-02-05"}
    done = _roll_now(client, gold, **submit)
    assert "done" in done.content.decode()
    assert PaperOrder.objects.count() == before + 2
    again = _roll_now(client, gold, **submit)  # the same page submitted twice
    assert "already rolled" in again.content.decode()
    assert PaperOrder.objects.count() == before + 2 and Rollover.objects.count() == 1
    assert list(OpsAuditLog.objects.filter(action="rollover_now").values_list("actor", "target_id")) == [
        ("clerk", str(gold.pk))]


def test_the_rollover_list_and_the_positions_api_show_the_rollover(gold, clock, client, ops_user):
    run_command()
    client.force_login(ops_user)
    listing = client.get("/admin/positions/rollover/").content.decode()
    assert "GOLDM05FEB26FUT" in listing and "GOLDM05MAR26FUT" in listing
    roll = Rollover.objects.get()
    detail = client.get(f"/admin/positions/rollover/{roll.pk}/change/").content.decode()
    assert "old_contract_closed" in detail and "new_contract_opened" in detail
    row = next(r for r in client.get("/api/positions/").json()["results"] if r["id"] == gold.pk)
    assert (row["rollover_count"], row["original_expiry"], row["rollover"]["phase"]) == (1, "2026-02-05", "done")
    assert row["rollover"]["new"] == ["GOLDM05MAR26FUT"] and row["expiry"] == str(date(2026, 3, 5))
