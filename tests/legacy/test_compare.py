"""Shadow-run comparison rules (legacy/compare.py, legacy/outcomes.py), without a database."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from legacy.compare import Outcome, SignalRef, compare_signal, reason_code, summarise
from legacy.fingerprints import map_signal
from legacy.outcomes import AuditIndex, legacy_outcome

D = Decimal
IST = ZoneInfo("Asia/Kolkata")
T = datetime(2026, 11, 27, 10, 0, tzinfo=IST)


def ref(signal_type="BASE_ENTRY", instrument="GOLD_MINI", position="Long_1") -> SignalRef:
    return SignalRef("f" * 64, instrument, signal_type, position, T)


def differences(signal_type, legacy, ours, instrument="GOLD_MINI"):
    return compare_signal(ref=ref(signal_type, instrument), legacy=legacy, ours=ours).differences


def test_the_same_decision_is_a_match():
    same = Outcome("executed", lots=9, limiter="risk", stop=D("71500"))
    comparison = compare_signal(ref=ref(), legacy=same, ours=same)
    assert comparison.matched and comparison.as_dict()["matched"]


def test_a_stale_entry_we_rejected_is_labelled_with_the_disabled_age_check():
    [d] = differences("BASE_ENTRY", Outcome("executed", lots=3), Outcome("rejected", "stale_signal"))
    assert (d.field, d.legacy, d.ours, d.bugs) == ("outcome", "executed", "rejected (stale_signal)", (1,))
    assert "MAX_SIGNAL_AGE" in d.rule and "legacy bug #1" in d.text()


@pytest.mark.parametrize(("reason", "bugs"), [
    ("max_pyramids", (46,)), ("layer_open", (45,)), ("zero_lots:margin", (46,)), ("portfolio_risk", (46,)),
    ("1r_gate", ()), ("reconciliation_mismatch", ()),
])
def test_a_pyramid_we_refused_names_our_rule_and_the_bug(reason, bugs):
    [d] = differences("PYRAMID", Outcome("executed", lots=1), Outcome("blocked", reason))
    assert d.bugs == bugs and d.field == "outcome"


def test_an_exit_the_legacy_safety_check_blocked_is_bug_43():
    [d] = differences("EXIT", Outcome("rejected", "safety_check_failed"), Outcome("executed"))
    assert d.bugs == (43,) and "never blocked" in d.rule


def test_an_entry_the_legacy_system_answered_with_an_error_is_bug_29():
    [d] = differences("BASE_ENTRY", Outcome("failed"), Outcome("executed", lots=3))
    assert d.bugs == (29, 44)


def test_two_refusals_for_different_reasons_are_a_reason_difference():
    [d] = differences("PYRAMID", Outcome("blocked", "1r_gate"), Outcome("blocked", "atr_spacing"))
    assert d.field == "reason"
    assert differences("PYRAMID", Outcome("blocked", "atr_spacing"), Outcome("blocked", "atr_spacing")) == []
    # Blocked there, rejected here, same rule: the same decision in two vocabularies.
    assert differences("PYRAMID", Outcome("blocked", "no_base_position"), Outcome("rejected", "no_base_position")) == []


def test_lots_differences_are_explained_by_the_binding_constraint():
    [margin] = differences("BASE_ENTRY", Outcome("executed", lots=11, limiter="margin"),
                           Outcome("executed", lots=8, limiter="margin"))
    assert margin.field == "lots" and margin.bugs == (46,)
    [risk] = differences("BASE_ENTRY", Outcome("executed", lots=10, limiter="risk"),
                         Outcome("executed", lots=9, limiter="risk"))
    assert risk.bugs == (40, 47)
    [scaled] = differences("PYRAMID", Outcome("executed", lots=1, limiter="geometric"),
                           Outcome("executed", lots=2, limiter="geometric"))
    assert "broker-price" in scaled.rule
    [limiter] = differences("BASE_ENTRY", Outcome("executed", lots=8, limiter="margin"),
                            Outcome("executed", lots=8, limiter="risk"))
    assert limiter.field == "limiter"
    [stop] = differences("BASE_ENTRY", Outcome("executed", lots=8, stop=D("71500")),
                         Outcome("executed", lots=8, stop=D("71000")))
    assert stop.field == "stop"


def test_unknown_legacy_lots_are_not_compared():
    legacy = Outcome("executed", note="overwritten by a later campaign (bug #45)")
    assert differences("BASE_ENTRY", legacy, Outcome("executed", lots=8, limiter="risk")) == []


def test_exit_differences():
    ours = Outcome("executed", exits=(("BANK_NIFTY_Long_1", D("52600"), "Manual Exit"),))
    legacy = Outcome("executed", exits=(("BANK_NIFTY_Long_1", D("52613.5"), "SIGNAL"),))
    price, reason = differences("EXIT", legacy, ours, instrument="BANK_NIFTY")
    assert (price.field, price.bugs) == ("exit price", (6, 38))
    assert reason.field == "exit reason"
    [layers] = differences("EXIT", Outcome("executed", exits=()), ours)
    assert layers.field == "exit"


def test_a_signal_on_one_side_only_is_a_presence_difference():
    assert compare_signal(ref=ref(), legacy=None, ours=Outcome("executed")).differences[0].field == "presence"
    assert compare_signal(ref=ref(), legacy=Outcome("executed"), ours=None).differences[0].ours == "absent"


def test_summary_counts_by_field():
    comparisons = [compare_signal(ref=ref(), legacy=Outcome("executed"), ours=Outcome("executed")),
                   compare_signal(ref=ref(), legacy=None, ours=Outcome("executed"))]
    assert summarise(comparisons) == {"signals": 2, "matched": 1, "different": 1,
                                      "differences_by_field": {"presence": 1}}


@pytest.mark.parametrize(("text", "code"), [
    ("Zero lots (limited by margin)", "zero_lots:margin"), ("No base position", "no_base_position"),
    ("Price not > 1R (moved 420, need 525)", "1r_gate"), ("ATR spacing 0.15 < 0.5", "atr_spacing"),
    ("Portfolio risk would be 16.2% (limit: 15.0%)", "portfolio_risk"), ("Position not found", "position_not_open"),
    ("safety_check_failed", "safety_check_failed"), (None, ""),
])
def test_legacy_reason_texts_take_our_codes(text, code):
    assert reason_code(text) == code


# --- legacy outcomes read from its rows --------------------------------------------------------------

CODES = {"GOLD_MINI", "BANK_NIFTY"}


def log_row(signal_type="BASE_ENTRY", position="Long_1", status="executed", **fields):
    row = {"id": 1, "instrument": "GOLD_MINI", "signal_type": signal_type, "position": position,
           "signal_timestamp": datetime(2026, 11, 27, 10, 0), "processed_at": datetime(2026, 11, 27, 10, 0, 3),
           "processing_status": status, "payload": None, "fingerprint": "x"}
    row.update(fields)
    return row


def outcome(row, positions=(), audits=()):
    mapped = map_signal(row, instruments=CODES)
    return legacy_outcome(mapped, row, audits=AuditIndex(audits), positions=list(positions))


POSITION = {"position_id": "GOLD_MINI_Long_1", "instrument": "GOLD_MINI", "status": "closed", "lots": 9,
            "limiter": "risk", "initial_stop": D("71500"), "entry_timestamp": datetime(2026, 11, 27, 10, 0),
            "exit_timestamp": datetime(2026, 11, 27, 11, 0, 2), "exit_price": D("75000"), "exit_reason": "SuperTrend"}


def test_an_executed_entry_reads_lots_limiter_and_stop_from_its_campaign_row():
    assert outcome(log_row(), [POSITION]) == Outcome("executed", lots=9, limiter="risk", stop=D("71500"))


def test_an_overwritten_campaign_row_leaves_the_lots_unknown_unless_audited():
    later = {**POSITION, "entry_timestamp": datetime(2026, 11, 28, 10, 0)}
    assert "bug #45" in outcome(log_row(), [later]).note
    audit = {"signal_log_id": 1, "outcome": "PROCESSED", "sizing_calculation": {"final_lots": 9, "limiter": "risk"}}
    assert outcome(log_row(), [later], [audit]).lots == 9


def test_an_executed_exit_reads_the_rows_it_closed():
    row = log_row("EXIT", "ALL", signal_timestamp=datetime(2026, 11, 27, 11, 0),
                  processed_at=datetime(2026, 11, 27, 11, 0, 4))
    assert outcome(row, [POSITION]).exits == (("GOLD_MINI_Long_1", D("75000"), "SuperTrend"),)


def test_a_refusal_takes_its_reason_from_the_audit_row():
    audit = {"signal_log_id": 1, "outcome": "REJECTED_RISK", "outcome_reason": "ATR spacing 0.15 < 0.5"}
    assert outcome(log_row("PYRAMID", "Long_2", "blocked"), audits=[audit]) == Outcome("blocked", "atr_spacing")


def test_an_exit_of_nothing_answered_as_an_error_is_the_same_decision_as_ours():
    audit = {"signal_log_id": 1, "outcome": "FAILED_ORDER", "outcome_reason": "Position not found"}
    legacy = outcome(log_row("EXIT", "Long_2", "error"), audits=[audit])
    assert (legacy.status, legacy.reason) == ("rejected", "position_not_open") and "bug #44" in legacy.note
    assert differences("EXIT", legacy, Outcome("rejected", "position_not_open")) == []
