"""The legacy system's known bugs (domain-notes §12) that explain a shadow-run difference, by number."""

from __future__ import annotations

BUGS = {
    1: "signal-age check disabled after the 12-Dec-2025 IST/UTC incident: old signals execute",
    6: "Bank Nifty P&L taken from the index/signal price instead of the legs' fills",
    10: "entry recorded at the signal/limit price when the fill was missing from the order book",
    29: "audit call raised AttributeError after the order: blocks and fills answered HTTP 500",
    36: "MCX exits traded the contract computed from today's date, not the stored one",
    38: "Bank Nifty entry price stored as the futures mid, exit price as the synthetic",
    40: "a restart overwrote equity_high with the closed equity",
    43: "safety checks (margin, price gap) blocked exits",
    44: "every outcome but executed/blocked answered HTTP 500",
    45: "no guard against a re-used position label: a new entry overwrote the open row",
    46: "max_pyramids and margin in use not enforced; the pyramid portfolio gate assumed 5 lots",
    47: "deposits and withdrawals did not move equity_high",
}


def labels(numbers: tuple[int, ...]) -> list[dict]:
    return [{"number": n, "title": BUGS[n]} for n in numbers]


def short(numbers: tuple[int, ...]) -> str:
    return ", ".join(f"legacy bug #{n} ({BUGS[n]})" for n in numbers)
