"""Shadow run: one signal's legacy outcome against ours, and why they differ (plain rules, no I/O).

Compared per signal (matched by our fingerprint): the outcome (executed / not executed / failed;
between two "not executed" outcomes, the reason), lots and limiter, the initial stop, and the exits
(which layers, at what price, for what reason).  Each difference carries the rule on our side that
decided it and, when it is one of the legacy system's known bugs (domain-notes §12), that bug.
A field the legacy data cannot tell (its row was overwritten by a later campaign, bug #45) is not
compared; the outcome notes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from legacy.bugs import labels, short
from legacy.mapping import legacy_limiter

EXECUTED, NOT_EXECUTED, FAILED, PENDING = "executed", "not executed", "failed", "pending"
_KINDS = {"executed": EXECUTED, "blocked": NOT_EXECUTED, "rejected": NOT_EXECUTED, "skipped": NOT_EXECUTED,
          "duplicate": NOT_EXECUTED, "ignored": NOT_EXECUTED, "failed": FAILED, "partial": FAILED,
          "accepted": PENDING, "processing": PENDING, "held": PENDING}

# Legacy outcome texts (domain-notes §1.4, §4, §6; signal_audit.outcome_reason) → our reason codes.
_REASONS = (
    (re.compile(r"no[ _]base[ _]position", re.I), "no_base_position"),
    (re.compile(r"1r|price not > 1r", re.I), "1r_gate"),
    (re.compile(r"atr[ _]spacing", re.I), "atr_spacing"),
    (re.compile(r"instrument_pnl|negative_instrument_pnl|profit", re.I), "instrument_pnl"),
    (re.compile(r"portfolio risk|portfolio_risk", re.I), "portfolio_risk"),
    (re.compile(r"portfolio vol|volatility would be|portfolio_vol", re.I), "portfolio_vol"),
    (re.compile(r"position not found|already_clos|not open", re.I), "position_not_open"),
    (re.compile(r"trading_paused|paused", re.I), "trading_paused"),
    (re.compile(r"safety_check|margin critical|price (gap|sanity)", re.I), "safety_check_failed"),
    (re.compile(r"duplicate|already processed", re.I), "duplicate"),
    (re.compile(r"in_future|signal_age|stale", re.I), "stale_signal"),
)
_ZERO_LOTS = re.compile(r"zero lots.*limited by (?P<limiter>[a-z_.^0-9]+)", re.I)


def reason_code(text: str | None) -> str:
    """Our reason code for a legacy outcome text ('' when unknown or empty)."""
    text = (text or "").strip()
    if match := _ZERO_LOTS.search(text):
        return f"zero_lots:{legacy_limiter(match['limiter'])}"
    for pattern, code in _REASONS:
        if pattern.search(text):
            return code
    return text[:64]


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""
    lots: int | None = None
    limiter: str | None = None
    stop: Decimal | None = None
    exits: tuple[tuple[str, Decimal | None, str], ...] = ()  # (label, exit price, exit reason)
    note: str = ""

    @property
    def kind(self) -> str:
        return _KINDS.get(self.status, self.status)

    def as_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason, "lots": self.lots, "limiter": self.limiter,
                "stop": None if self.stop is None else str(self.stop),
                "exits": [{"label": label, "price": None if price is None else str(price), "reason": reason}
                          for label, price, reason in self.exits], "note": self.note}


@dataclass(frozen=True)
class Difference:
    field: str
    legacy: str
    ours: str
    rule: str
    bugs: tuple[int, ...] = ()

    def as_dict(self) -> dict:
        return {"field": self.field, "legacy": self.legacy, "ours": self.ours, "rule": self.rule,
                "legacy_bugs": labels(self.bugs)}

    def text(self) -> str:
        bugs = f" [{short(self.bugs)}]" if self.bugs else ""
        return f"{self.field}: legacy {self.legacy}, ours {self.ours} — {self.rule}{bugs}"


@dataclass(frozen=True)
class SignalRef:
    fingerprint: str
    instrument: str
    signal_type: str
    position: str
    timestamp: datetime


@dataclass
class SignalComparison:
    ref: SignalRef
    legacy: Outcome | None
    ours: Outcome | None
    differences: list[Difference] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        r = self.ref
        return {"fingerprint": r.fingerprint, "instrument": r.instrument, "type": r.signal_type,
                "position": r.position, "signal_timestamp": r.timestamp.isoformat(),
                "legacy": self.legacy.as_dict() if self.legacy else None,
                "ours": self.ours.as_dict() if self.ours else None,
                "matched": self.matched, "differences": [d.as_dict() for d in self.differences]}


def _describe(o: Outcome) -> str:
    return f"{o.status} ({o.reason})" if o.reason else o.status


# ------------------------------------------------------------------------------------ explanations

_OURS_REFUSED = {
    "stale_signal": ("entries older than MAX_SIGNAL_AGE at receipt are rejected (DESIGN Appendix A); the legacy "
                     "system disabled its signal-age check", (1,)),
    "future_signal": ("entries further ahead than MAX_SIGNAL_FUTURE are rejected (DESIGN Appendix A); the legacy "
                      "system disabled its signal-age check", (1,)),
    "layer_open": ("an entry on a layer that is already open is rejected (DESIGN §6)", (45,)),
    "max_pyramids": ("at most max_pyramids pyramids per base (DESIGN §7)", (46,)),
    "zero_lots:margin": ("margin lots = (60% × equity_high − margin in use) / margin per lot (DESIGN §7)", (46,)),
    "reconciliation_mismatch": ("an open broker discrepancy halts the instrument's entries (DESIGN §10); the legacy "
                                "broker sync only alerted (domain-notes §10.1)", ()),
    "trading_paused": ("our pause switch was on: entries and pyramids are blocked", ()),
    "instrument_pnl": ("a pyramid needs the instrument's open P&L above 0 at the signal price (DESIGN §7); the legacy "
                       "validator accepted 0 (domain-notes §4)", ()),
    "market_closed": ("entries outside the exchange session are rejected (DESIGN §15.3)", ()),
}


def _refused_by_us(signal_type: str, ours: Outcome) -> tuple[str, tuple[int, ...]]:
    reason = ours.reason
    if reason in _OURS_REFUSED:
        return _OURS_REFUSED[reason]
    if reason in ("portfolio_risk", "portfolio_vol"):
        if signal_type == "PYRAMID":
            return (f"{reason}: the pyramid portfolio gate uses the pyramid's real size (DESIGN §7); the legacy gate "
                    "assumed 5 lots", (46,))
        return f"{reason}: the portfolio gate (both systems have it; the exposures differed)", ()
    if reason.startswith("zero_lots:"):
        return f"sizing gave 0 lots, limited by {reason.split(':', 1)[1]} (DESIGN §7)", ()
    if reason.startswith("broker_"):
        return f"{reason}: the broker refused the order or its outcome could not be confirmed", ()
    if reason in ("no_base_position", "1r_gate", "atr_spacing"):
        return f"pyramid rule {reason} (DESIGN §7)", ()
    return f"decided by our check {reason or ours.status}", ()


def _refused_by_legacy(signal_type: str, legacy: Outcome) -> tuple[str, tuple[int, ...]]:
    if legacy.reason == "safety_check_failed" or (signal_type == "EXIT" and legacy.kind == NOT_EXECUTED
                                                 and legacy.reason != "position_not_open"):
        return "exits are never blocked by a safety gate or a pause (DESIGN §2, principle 6)", (43,)
    if legacy.kind == FAILED and signal_type in ("BASE_ENTRY", "PYRAMID"):
        return ("the legacy audit call raised after deciding (an executed or blocked entry became an error) and it "
                "answered HTTP 500", (29, 44))
    if legacy.status == "duplicate":
        return ("we deduplicate on the exact fingerprint (DESIGN §2); the legacy 60-second window on instrument, type "
                "and position (domain-notes §1.5) also swallowed distinct signals", ())
    if legacy.status == "skipped":
        return "the legacy system skipped it (already closing/closed, or executed at EOD) and answered HTTP 500", (44,)
    if legacy.reason in ("portfolio_risk", "portfolio_vol") and signal_type == "PYRAMID":
        return "the legacy pyramid portfolio gate assumed 5 lots; ours uses the real size (DESIGN §7)", (46,)
    if legacy.reason:
        return f"the legacy rule {legacy.reason} refused it; every one of our checks passed", ()
    return "the legacy system did not execute it; every one of our checks passed", ()


def _outcome_difference(ref: SignalRef, legacy: Outcome, ours: Outcome) -> Difference | None:
    if legacy.kind == ours.kind:
        if legacy.kind == NOT_EXECUTED and legacy.reason and ours.reason and legacy.reason != ours.reason:
            rule, bugs = _refused_by_us(ref.signal_type, ours)
            return Difference("reason", _describe(legacy), _describe(ours), rule, bugs)
        return None
    if ours.kind == EXECUTED:
        rule, bugs = _refused_by_legacy(ref.signal_type, legacy)
    elif ours.kind == PENDING:
        rule, bugs = "ours has not finished processing it yet: run the comparison again", ()
    else:
        rule, bugs = _refused_by_us(ref.signal_type, ours)
    return Difference("outcome", _describe(legacy), _describe(ours), rule, bugs)


def _lots_difference(ref: SignalRef, legacy: Outcome, ours: Outcome) -> list[Difference]:
    found = []
    if legacy.lots is not None and ours.lots is not None and legacy.lots != ours.lots:
        limiters = {ours.limiter, legacy.limiter}
        if "margin" in limiters:
            rule, bugs = ("margin lots = free margin / margin per lot, free margin = 60% × equity_high − margin in "
                          "use (DESIGN §7); the legacy system used 60% × equity_high", (46,))
        elif ours.limiter == "volatility":
            rule, bugs = ("our volatility constraint is on for this instrument; the legacy system only logged its "
                          "volatility lots (domain-notes §3.2)", ())
        elif ref.signal_type == "PYRAMID" and legacy.lots < ours.lots:
            rule, bugs = ("pyramid lots = min(margin, base × 0.5^(k+1), risk budget) from the signal (DESIGN §7); the "
                          "legacy system also scaled them down by the broker-price risk increase (domain-notes §1.6)",
                          ())
        else:
            rule, bugs = ("risk lots = equity_high × risk% / ((price − stop) × PV) × ER (DESIGN §7): the equity "
                          "high differs (legacy: moved only on closes, reset by restarts)", (40, 47))
        found.append(Difference("lots", f"{legacy.lots} ({legacy.limiter})", f"{ours.lots} ({ours.limiter})",
                                rule, bugs))
    elif legacy.limiter and ours.limiter and legacy.limiter != ours.limiter and legacy.lots is not None:
        found.append(Difference("limiter", legacy.limiter, ours.limiter,
                                "same lots; another constraint was the binding one (DESIGN §7)"))
    if legacy.stop is not None and ours.stop is not None and legacy.stop != ours.stop:
        found.append(Difference("stop", str(legacy.stop), str(ours.stop),
                                "initial stop = signal price − the instrument's initial ATR multiple × signal ATR "
                                "(DESIGN §7): the multiples differ"))
    return found


def _exit_differences(ref: SignalRef, legacy: Outcome, ours: Outcome) -> list[Difference]:
    if not (legacy.exits or ours.exits):
        return []
    theirs = {label: (price, reason) for label, price, reason in legacy.exits}
    mine = {label: (price, reason) for label, price, reason in ours.exits}
    found = []
    if set(theirs) != set(mine):
        found.append(Difference("exit", ", ".join(sorted(theirs)) or "none", ", ".join(sorted(mine)) or "none",
                                "an EXIT closes the named layer, or every open layer for ALL (DESIGN §7): the open "
                                "layers differed before this signal"))
    for label in sorted(set(theirs) & set(mine)):
        (legacy_price, legacy_reason), (our_price, our_reason) = theirs[label], mine[label]
        if legacy_price is not None and our_price is not None and legacy_price != our_price:
            if ref.instrument == "BANK_NIFTY":
                rule, bugs = "Bank Nifty exits are priced from the legs' fills, strike + CE − PE (DESIGN §7)", (6, 38)
            else:
                rule, bugs = "an exit books the fill of the stored contract (DESIGN §7)", (10, 36)
            found.append(Difference("exit price", f"{label} {legacy_price}", f"{label} {our_price}", rule, bugs))
        if legacy_reason and our_reason and legacy_reason != our_reason:
            found.append(Difference("exit reason", f"{label} {legacy_reason}", f"{label} {our_reason}",
                                    "exit_reason is PM_STOP_HIT for a stop exit, else the signal's reason "
                                    "(DESIGN Appendix A)"))
    return found


def compare_signal(*, ref: SignalRef, legacy: Outcome | None, ours: Outcome | None) -> SignalComparison:
    if legacy is None:
        return SignalComparison(ref, None, ours, [Difference(
            "presence", "absent", _describe(ours),
            "not in the legacy signal log: it logs a signal only after processing it, and not at all when its rate "
            "limit (100/min per address), its 60-second duplicate window or an exception refused it", (29,))])
    if ours is None:
        return SignalComparison(ref, legacy, None, [Difference(
            "presence", _describe(legacy), "absent",
            "not in our signal log: the shadow instance did not receive it (mirror down, or refused at the door "
            "with 4xx: check nginx's mirror log)")])
    differences = []
    if outcome := _outcome_difference(ref, legacy, ours):
        differences.append(outcome)
    elif legacy.kind == EXECUTED:
        differences += _lots_difference(ref, legacy, ours)
        differences += _exit_differences(ref, legacy, ours)
    return SignalComparison(ref, legacy, ours, differences)


def summarise(comparisons: list[SignalComparison]) -> dict:
    by_field: dict[str, int] = {}
    for comparison in comparisons:
        for difference in comparison.differences:
            by_field[difference.field] = by_field.get(difference.field, 0) + 1
    return {"signals": len(comparisons), "matched": sum(c.matched for c in comparisons),
            "different": sum(not c.matched for c in comparisons), "differences_by_field": by_field}
