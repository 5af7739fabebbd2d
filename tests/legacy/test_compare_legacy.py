"""``manage.py compare_legacy``: the same alerts through the legacy system (its tables, as it would have
written them) and through ours (the real webhook and executor, paper broker), compared signal by signal."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from psycopg.types.json import Jsonb

from signals.models import SignalLog
from tests import payloads

IST = ZoneInfo("Asia/Kolkata")


def naive_ist(moment: datetime) -> datetime:
    return moment.astimezone(IST).replace(tzinfo=None).replace(microsecond=0)


class Alerts:
    """One set of alerts, posted to our webhook and written into the legacy tables as the legacy
    system would have logged them."""

    def __init__(self, webhook, legacy_db):
        self.webhook, self.legacy_db = webhook, legacy_db
        self.base = webhook.base_time

    def send(self, payload: dict, *, at: datetime, legacy_status: str = "executed") -> datetime:
        stamp = naive_ist(at)
        body = {**payload, "timestamp": stamp.isoformat()}  # Pine V9: naive IST wall clock
        assert self.webhook.post(body).status_code == 202
        text = f"{body['instrument']}:{body['type']}:{body['position']}:{stamp}"
        legacy_fp = hashlib.sha256(text.encode()).hexdigest()
        self.legacy_db.execute(
            "INSERT INTO signal_log (instrument, signal_type, position, signal_timestamp, fingerprint, processed_at, "
            "processing_status, payload) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (body["instrument"], body["type"], body["position"], stamp, legacy_fp, stamp + timedelta(seconds=3),
             legacy_status, Jsonb(body)))
        return stamp

    def legacy_position(self, position_id: str, *, entry: datetime, lots: int, limiter: str, price, stop,
                        exit_at: datetime | None = None, exit_price=None, reason: str | None = None) -> None:
        self.legacy_db.execute(
            "INSERT INTO portfolio_positions (position_id, instrument, status, entry_timestamp, entry_price, lots, "
            "quantity, initial_stop, current_stop, highest_close, limiter, is_base_position, exit_timestamp, "
            "exit_price, exit_reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (position_id, position_id.rsplit("_Long_", 1)[0], "closed" if exit_at else "open", entry, price, lots,
             lots, stop, stop, price, limiter, position_id.endswith("_1"),
             exit_at + timedelta(seconds=3) if exit_at else None, exit_price, reason))


@pytest.fixture
def shadow_run(live_portfolio, webhook, empty_legacy_db):
    """A Gold campaign both systems agree on, and one deliberate difference: a Bank Nifty entry two hours
    old that the legacy system executed (its signal-age check is disabled) and ours rejects as stale."""
    alerts, t = Alerts(webhook, empty_legacy_db), webhook.base_time
    gold_entry = alerts.send(payloads.entry(timestamp="", price=72000, stop=71500, atr=500, er=0.9), at=t)
    webhook.bar(minute=5, price=73200)  # ours trails on bars; the legacy log holds regular signals only
    gold_pyramid = alerts.send(payloads.entry(timestamp="", position="Long_2", price=73200, stop=72700, atr=500),
                               at=t + timedelta(minutes=6))
    gold_exit = alerts.send(payloads.exit_(timestamp="", price=75000, reason="SuperTrend"),
                            at=t + timedelta(minutes=20))
    stale = alerts.send(payloads.entry(timestamp="", instrument="BANK_NIFTY", price=52000, stop=51650, atr=350,
                                       er=0.82), at=t - timedelta(minutes=90))
    alerts.legacy_position("GOLD_MINI_Long_1", entry=gold_entry, lots=9, limiter="risk", price=72000, stop=71500,
                           exit_at=gold_exit, exit_price=75000, reason="SuperTrend")
    alerts.legacy_position("GOLD_MINI_Long_2", entry=gold_pyramid, lots=4, limiter="geometric_0.5^0", price=73200,
                           stop=72700, exit_at=gold_exit, exit_price=75000, reason="SuperTrend")
    alerts.legacy_position("BANK_NIFTY_Long_1", entry=stale, lots=3, limiter="risk", price=52000, stop=51475)
    ours = SignalLog.objects.exclude(signal_type="MARKET_DATA").order_by("signal_timestamp")
    assert list(ours.values_list("instrument", "position", "status", "reason")) == [
        ("BANK_NIFTY", "Long_1", "rejected", "stale_signal"), ("GOLD_MINI", "Long_1", "executed", ""),
        ("GOLD_MINI", "Long_2", "executed", ""), ("GOLD_MINI", "ALL", "executed", "")]
    return empty_legacy_db, (t - timedelta(days=1)).astimezone(IST).date().isoformat()


def compare(url: str, since: str, *extra: str) -> int:
    try:
        call_command("compare_legacy", "--from", url, "--since", since, *extra)
    except SystemExit as exc:
        return exc.code
    return 0


def test_one_deliberate_difference_exits_1_and_is_named(shadow_run, capsys):
    legacy_db, since = shadow_run
    assert compare(legacy_db.url, since) == 1
    out = capsys.readouterr().out
    assert "4 signals, 3 matched, 1 different" in out
    assert "= " in out and out.count("≠ ") == 1
    [line] = [line for line in out.splitlines() if line.startswith("≠ ")]
    assert "BANK_NIFTY BASE_ENTRY Long_1  legacy executed / ours rejected" in line
    assert ("outcome: legacy executed, ours rejected (stale_signal) — entries older than MAX_SIGNAL_AGE at receipt "
            "are rejected") in out
    assert "legacy bug #1 (signal-age check disabled" in out

    assert compare(legacy_db.url, since, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"signals": 4, "matched": 3, "different": 1, "differences_by_field": {"outcome": 1}}
    gold = [s for s in report["signals"] if s["instrument"] == "GOLD_MINI"]
    assert [(s["type"], s["matched"]) for s in gold] == [("BASE_ENTRY", True), ("PYRAMID", True), ("EXIT", True)]
    assert (gold[0]["ours"]["lots"], gold[0]["ours"]["limiter"], gold[0]["ours"]["stop"]) == (9, "risk", "71500.0000")
    assert gold[2]["ours"]["exits"] == [
        {"label": "GOLD_MINI_Long_1", "price": "75000.0000", "reason": "SuperTrend"},
        {"label": "GOLD_MINI_Long_2", "price": "75000.0000", "reason": "SuperTrend"}]
    [different] = [s for s in report["signals"] if not s["matched"]]
    assert different["differences"] == [{
        "field": "outcome", "legacy": "executed", "ours": "rejected (stale_signal)",
        "rule": different["differences"][0]["rule"],
        "legacy_bugs": [{"number": 1, "title": different["differences"][0]["legacy_bugs"][0]["title"]}]}]


def test_a_lots_difference_is_explained(shadow_run, capsys):
    legacy_db, since = shadow_run
    legacy_db.execute("UPDATE portfolio_positions SET lots = 11, limiter = 'margin' "
                      "WHERE position_id = 'GOLD_MINI_Long_1'")
    assert compare(legacy_db.url, since) == 1
    out = capsys.readouterr().out
    assert "lots: legacy 11 (margin), ours 9 (risk) — margin lots = free margin / margin per lot" in out
    assert "legacy bug #46" in out


def test_when_the_books_agree_it_exits_0(shadow_run, capsys):
    legacy_db, since = shadow_run
    # Suppose the legacy system had refused the stale entry too: the same decision, no difference.
    legacy_db.execute("UPDATE signal_log SET processing_status = 'rejected' WHERE instrument = 'BANK_NIFTY'")
    legacy_db.execute("DELETE FROM portfolio_positions WHERE instrument = 'BANK_NIFTY'")
    assert compare(legacy_db.url, since) == 0
    assert "4 signals, 4 matched, 0 different" in capsys.readouterr().out


def test_a_signal_the_shadow_never_received_is_a_difference(shadow_run, capsys):
    legacy_db, since = shadow_run
    legacy_db.execute(
        "INSERT INTO signal_log (instrument, signal_type, position, signal_timestamp, fingerprint, processing_status) "
        "VALUES ('SILVER_MINI', 'EXIT', 'ALL', %s, 'lost-in-the-mirror', 'executed')",
        (naive_ist(datetime.now(IST) - timedelta(minutes=40)),))
    assert compare(legacy_db.url, since, "--json") == 1
    [lost] = [s for s in json.loads(capsys.readouterr().out)["signals"] if s["instrument"] == "SILVER_MINI"]
    assert (lost["ours"], lost["differences"][0]["field"]) == (None, "presence")


def test_bad_arguments(shadow_run, capsys):
    legacy_db, _since = shadow_run
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--since must be a date"):
        call_command("compare_legacy", "--from", legacy_db.url, "--since", "yesterday")
    assert compare("postgres://postgres:postgres@127.0.0.1:5432/test_legacy_absent", "2026-01-01") == 2
