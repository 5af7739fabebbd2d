"""Operator-facing text of an import plan and of a shadow-run comparison (the commands print these)."""

from __future__ import annotations

from legacy.compare import SignalComparison, summarise
from legacy.mapping import RowError


def _db(database: dict) -> str:
    return f"{database.get('dbname')} on {database.get('host')}:{database.get('port')}"


def _position_line(p: dict) -> str:
    symbols = p["futures_symbol"] or f"{p['pe_symbol']} / {p['ce_symbol']}"
    signal = f" (signal {p['signal_price']})" if p["signal_price"] != p["entry_price"] else ""
    return (f"  {p['label']:<20} {p['lots']:>3} lots (qty {p['quantity']})  entry {p['entry_price']}{signal}  "
            f"stop {p['initial_stop']} → {p['current_stop']}  high close {p['highest_close']}  ATR {p['entry_atr']}  "
            f"limiter {p['limiter']}  expiry {p['expiry']}  {symbols}  ← {p['legacy_key']}")


def _warnings(items: list[str], indent: str = "      ") -> list[str]:
    return [f"{indent}! {w}" for w in items]


def errors_text(errors: list[RowError]) -> list[str]:
    return [f"  {e.table} {e.row_id}: {e.reason}" for e in errors]


def plan_text(plan: dict, *, dry_run: bool) -> str:
    lines = [f"Legacy import from {_db(plan['legacy_database'])} (read in a read-only transaction: "
             f"{'yes' if plan['legacy_read_only'] else 'NO'})"]
    if dry_run:
        lines.append("DRY RUN: the plan below is printed and nothing is written.")
    lines += ["", f"Positions to import ({len(plan['positions'])}):"]
    for p in plan["positions"]:
        lines += [_position_line(p), *_warnings(p["warnings"])]
    if plan["already_imported"]:
        lines.append(f"Already imported, left as they are ({len(plan['already_imported'])}):")
        for p in plan["already_imported"]:
            lines.append(f"  {p['label']} #{p['position_id']} ({p['status']}) ← {p['legacy_key']}")
            lines += _warnings(p["changes_since"])
    portfolio = plan["portfolio"]
    if portfolio.get("closed_equity") is not None:
        state = "to book" if portfolio["opening_balance"] == "new" else "already booked, left as it is"
        lines += ["", f"Portfolio opening balance ({state}): initial capital {portfolio['initial_capital']}, closed "
                      f"equity {portfolio['closed_equity']}, equity high {portfolio['equity_high']}",
                  *_warnings(portfolio["warnings"], "  ")]
    if plan["pyramiding"]:
        lines += ["", "Pyramiding state:"]
        for p in plan["pyramiding"]:
            lines += [f"  {p['instrument']}: base {p['base'] or 'none'}, last entry price {p['last_pyramid_price']}",
                      *_warnings(p["warnings"])]
    lines += ["", f"Legacy signals to record as already seen ({len(plan['signals'])}; already in our inbox: "
                  f"{plan['signals_already_seen']}):"]
    for s in plan["signals"]:
        lines += [f"  #{s['legacy_id']} {s['instrument']} {s['type']} {s['position'] or '-'} {s['signal_timestamp']} "
                  f"(legacy {s['legacy_status']}; fingerprint {s['fingerprint'][:12]}… from the "
                  f"{s['timestamp_source']})",
                  *_warnings(s["warnings"])]
    if plan["notes"]:
        lines += ["", "Notes:", *(f"  - {n}" for n in plan["notes"])]
    if plan["errors"]:
        lines += ["", f"Legacy rows that cannot be mapped ({len(plan['errors'])}) — NOTHING is imported until they "
                      "are fixed:", *(f"  {e['table']} {e['id']}: {e['reason']}" for e in plan["errors"])]
    if plan["refusal"]:
        lines += ["", f"REFUSED: {plan['refusal']}"]
    return "\n".join(lines)


def comparison_text(comparisons: list[SignalComparison], errors: list[RowError], *, database: dict,
                    since: str) -> str:
    summary = summarise(comparisons)
    lines = [f"Shadow run since {since}: legacy {_db(database)} against ours — {summary['signals']} signals, "
             f"{summary['matched']} matched, {summary['different']} different", ""]
    for c in comparisons:
        r = c.ref
        legacy = c.legacy.status if c.legacy else "absent"
        ours = c.ours.status if c.ours else "absent"
        mark = "=" if c.matched else "≠"
        lines.append(f"{mark} {r.timestamp.isoformat()} {r.instrument} {r.signal_type} {r.position or '-'}  "
                     f"legacy {legacy} / ours {ours}  [{r.fingerprint[:12]}…]")
        for side in (c.legacy, c.ours):
            if side is not None and side.note:
                lines.append(f"    note: {side.note}")
        lines += [f"    {d.text()}" for d in c.differences]
    if errors:
        lines += ["", "Legacy signal rows that could not be read:", *errors_text(errors)]
    return "\n".join(lines)
