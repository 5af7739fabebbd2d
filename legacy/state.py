"""Legacy portfolio_state, capital_transactions and pyramiding_state rows → our values (no database).

The portfolio's values are the legacy ``portfolio_state`` row's (what the legacy system sized with),
cross-checked against its ledger (ha-notes A5.4: the two could disagree); a high-water mark that is
missing (migration 015 not run) or below closed equity (bugs #40, #47) falls back to closed equity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from legacy.mapping import CENT, MappedPosition, RowReader, Unmappable
from portfolio.equity import apply_ledger_entry


@dataclass
class MappedPortfolio:
    initial_capital: Decimal
    closed_equity: Decimal
    equity_high: Decimal
    ledger: dict
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"initial_capital": str(self.initial_capital), "closed_equity": str(self.closed_equity),
                "equity_high": str(self.equity_high), "legacy_ledger": self.ledger, "warnings": list(self.warnings)}


def summarise_ledger(rows: Iterable[Mapping]) -> dict:
    """Counts and signed sums per type, the last ``equity_after``, and the high our rule would give."""
    kinds: dict[str, dict] = {}
    total, last_after, closed, high, unknown = Decimal(0), None, Decimal(0), Decimal(0), []
    for row in rows:
        kind, amount = str(row.get("transaction_type") or ""), Decimal(str(row.get("amount") or 0))
        if kind == "WITHDRAW":
            amount = -abs(amount)  # migration 013 made withdrawals negative; older rows were positive
        entry = kinds.setdefault(kind, {"count": 0, "sum": Decimal(0)})
        entry["count"] += 1
        entry["sum"] += amount
        total += amount
        last_after = row.get("equity_after")
        if kind in ("DEPOSIT", "WITHDRAW", "TRADING_PNL") and amount != 0:
            closed, high = apply_ledger_entry(closed_equity=closed, equity_high=high, kind=kind, amount=amount)
        else:
            unknown.append(str(row.get("id")))
    return {"by_type": {k: {"count": v["count"], "sum": str(v["sum"])} for k, v in sorted(kinds.items())},
            "sum": str(total), "last_equity_after": None if last_after is None else str(last_after),
            "equity_high_by_our_rule": str(high), "rows_not_replayed": unknown}


def map_portfolio(state: Mapping | None, ledger_rows: Iterable[Mapping]) -> MappedPortfolio:
    """The legacy ``portfolio_state`` row (its values are what the legacy system sized with) plus a
    cross-check against its ledger (ha-notes A5.4: the two could disagree)."""
    if state is None:
        raise Unmappable(["portfolio_state has no row id = 1"])
    r = RowReader(state)
    initial, closed = r.number("initial_capital"), r.number("closed_equity", positive=False)
    high = r.number("equity_high", required=False, positive=False)
    if r.problems:
        raise Unmappable(r.problems)
    ledger = summarise_ledger(ledger_rows)
    if high is None:
        high = closed
        r.warnings.append("equity_high is empty (migration 015 not run?): the closed equity is used")
    elif high < closed:
        r.warnings.append(f"equity_high {high} is below the closed equity {closed} (legacy bugs #40, #47); ours may "
                          "not be: the closed equity is used")
        high = closed
    if ledger["by_type"] and Decimal(ledger["sum"]) != closed:
        r.warnings.append(f"the legacy ledger sums to {ledger['sum']} but portfolio_state.closed_equity is {closed} "
                          "(ha-notes A5.4): the portfolio_state value is used")
    if ledger["by_type"] and Decimal(ledger["equity_high_by_our_rule"]) != high:
        r.warnings.append(f"replayed by our rule (capital flows move the high, bug #47) the ledger's high is "
                          f"{ledger['equity_high_by_our_rule']}; the legacy {high} is kept, as the legacy system "
                          "sized with it")
    return MappedPortfolio(initial.quantize(CENT), closed.quantize(CENT), high.quantize(CENT), ledger, r.warnings)


# ------------------------------------------------------------------------------------ pyramiding


@dataclass
class MappedPyramiding:
    instrument: str
    base_legacy_key: str | None
    last_pyramid_price: Decimal | None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"instrument": self.instrument, "base": self.base_legacy_key,
                "last_pyramid_price": None if self.last_pyramid_price is None else str(self.last_pyramid_price),
                "warnings": list(self.warnings)}


def map_pyramiding(rows: Iterable[Mapping], positions: Iterable[MappedPosition]) -> list[MappedPyramiding]:
    """Per instrument we import positions of: its base (the imported Long_1) and the last entry price."""
    legacy = {str(row.get("instrument") or "").upper(): row for row in rows}
    by_instrument: dict[str, list[MappedPosition]] = {}
    for position in positions:
        by_instrument.setdefault(position.instrument, []).append(position)
    mapped = []
    for code, imported in sorted(by_instrument.items()):
        row, warnings = legacy.get(code, {}), []
        base = next((p for p in imported if p.layer == 1), None)
        legacy_base = str(row.get("base_position_id") or "")
        if base is not None and legacy_base != base.legacy_id:
            warnings.append(f"legacy base_position_id is {legacy_base or 'empty'}; the open {base.legacy_id} is "
                            "the base")
        elif base is None and legacy_base:
            warnings.append(f"legacy base {legacy_base} is not open: no base (pyramids stay open, new ones need "
                            "a base)")
        price = row.get("last_pyramid_price")
        last = Decimal(str(price)) if price is not None and Decimal(str(price)) > 0 else None
        if last is None:
            latest = max(imported, key=lambda p: p.values["opened_at"])
            last = latest.values["signal_price"]
            warnings.append(f"last_pyramid_price is empty: {latest.legacy_id}'s entry price {last} is used")
        mapped.append(MappedPyramiding(code, base.legacy_key if base else None, last, warnings))
    return mapped
