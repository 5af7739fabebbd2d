"""The legacy import: plan it from a snapshot of the legacy database, then apply it in ONE transaction.

What is carried over (issue 16): every open, partial and closing position (as ``open``, marked by
``Position.legacy_key`` = legacy id @ entry time); the portfolio's initial capital, closed equity and
equity high as one ``OPENING_BALANCE`` ledger entry; each imported instrument's pyramiding state;
and the fingerprints of the last days' legacy signals as already-seen signals (so a resent alert is
a duplicate).  Writes go through their owners: positions through ``positions.services.lifecycle``,
the ledger through ``portfolio.services``, signals through ``signals.services.inbox``.

* Nothing is half-imported: any legacy row that cannot be mapped is reported (table, id, reason) and
  the plan cannot be applied; the apply is one transaction.
* Idempotent: positions already imported (same legacy key), an existing opening balance and signals
  already in the inbox are left alone; a run with nothing left to do writes nothing and says so.
* A database that already trades (positions this system opened itself) is refused unless ``force``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.locks import instrument_lock
from core.services import audit_record
from legacy import selectors
from legacy.fingerprints import MappedSignal, map_signal
from legacy.mapping import IST, MappedPosition, RowError, Unmappable, map_position
from legacy.source import LegacySnapshot
from legacy.state import MappedPortfolio, MappedPyramiding, map_portfolio, map_pyramiding
from portfolio.services import locked_state, opening_balance, portfolio_open_balance
from positions.services.lifecycle import position_create, pyramiding_restore, totals_refresh
from signals.services.inbox import signal_record_seen

FORCE_FLAG = "--into-trading-database"


class ImportFailed(Exception):
    """The apply was refused by a rule or the database (e.g. a layer taken meanwhile); nothing was written."""


@dataclass
class ImportPlan:
    database: dict
    read_only: bool
    errors: list[RowError] = field(default_factory=list)
    refusal: str = ""
    positions: list[MappedPosition] = field(default_factory=list)  # to create
    already_imported: list[dict] = field(default_factory=list)
    portfolio: MappedPortfolio | None = None
    opening: str = ""  # "new" | "exists"
    opening_existing: dict = field(default_factory=dict)
    pyramiding: list[MappedPyramiding] = field(default_factory=list)
    signals: list[MappedSignal] = field(default_factory=list)  # to record as seen
    signals_already_seen: int = 0
    notes: list[str] = field(default_factory=list)
    pyramiding_rows: list[dict] = field(default_factory=list, repr=False)  # the legacy rows, as read

    @property
    def changes(self) -> int:
        return len(self.positions) + (self.opening == "new") + len(self.pyramiding) + len(self.signals)

    @property
    def applicable(self) -> bool:
        return not self.errors and not self.refusal

    def as_dict(self) -> dict:
        return {
            "legacy_database": self.database, "legacy_read_only": self.read_only,
            "errors": [e.as_dict() for e in self.errors], "refusal": self.refusal or None,
            "positions": [p.as_dict() for p in self.positions], "already_imported": self.already_imported,
            "portfolio": {**(self.portfolio.as_dict() if self.portfolio else {}), "opening_balance": self.opening,
                          "existing_opening_balance": self.opening_existing or None},
            "pyramiding": [p.as_dict() for p in self.pyramiding],
            "signals": [s.as_dict() for s in self.signals], "signals_already_seen": self.signals_already_seen,
            "notes": self.notes, "changes": self.changes,
        }


def _map_rows(snapshot: LegacySnapshot, plan: ImportPlan, tz: str) -> tuple[list[MappedPosition], list[MappedSignal]]:
    specs = selectors.instrument_specs()
    positions, signals, seen = [], [], {}
    for row in snapshot.positions:
        try:
            positions.append(map_position(row, specs=specs, tz=tz))
        except Unmappable as exc:
            plan.errors.append(RowError("portfolio_positions", str(row.get("position_id")), str(exc)))
    try:
        plan.portfolio = map_portfolio(snapshot.state, snapshot.ledger)
    except Unmappable as exc:
        plan.errors.append(RowError("portfolio_state", "1", str(exc)))
    for row in snapshot.signals:
        try:
            mapped = map_signal(row, instruments=set(specs), tz=tz)
        except Unmappable as exc:
            plan.errors.append(RowError("signal_log", str(row.get("id")), str(exc)))
            continue
        if mapped.fingerprint in seen:
            plan.notes.append(f"signal_log #{mapped.legacy_id} is the same signal as #{seen[mapped.fingerprint]} "
                              "(same fingerprint once recomputed): recorded once")
            continue
        seen[mapped.fingerprint] = mapped.legacy_id
        signals.append(mapped)
    return positions, signals


def _plan_positions(plan: ImportPlan, positions: list[MappedPosition]) -> None:
    imported, live = selectors.imported_positions(), selectors.live_layers()
    for mapped in positions:
        ours = imported.get(mapped.legacy_key)
        if ours is not None:
            entry = {"legacy_key": mapped.legacy_key, "position_id": ours["id"], "label": ours["label"],
                     "status": ours["status"], "changes_since": []}
            if ours["status"] == "open":
                for name in ("lots", "current_stop"):
                    if ours[name] != mapped.values[name]:
                        entry["changes_since"].append(f"{name}: legacy {mapped.values[name]}, ours {ours[name]} "
                                                      "(left as ours)")
            plan.already_imported.append(entry)
            continue
        taken = live.get((mapped.instrument, mapped.layer))
        if taken is not None:
            plan.errors.append(RowError("portfolio_positions", mapped.legacy_id,
                                        f"our {taken['label']} #{taken['id']} is already {taken['status']} on that "
                                        "layer"))
            continue
        plan.positions.append(mapped)
    # Pyramiding follows the positions: written for instruments that get new positions, from all of
    # that instrument's legacy positions (a base imported earlier stays the base).
    touched = {p.instrument for p in plan.positions}
    plan.pyramiding = map_pyramiding(plan.pyramiding_rows, [p for p in positions if p.instrument in touched])


def _plan_portfolio(plan: ImportPlan) -> None:
    existing = opening_balance()
    if existing is None:
        plan.opening = "new"
        return
    plan.opening = "exists"
    plan.opening_existing = {"ledger_id": existing.pk, "closed_equity": str(existing.equity_after),
                             "equity_high": str(existing.equity_high_after),
                             "created_at": existing.created_at.isoformat()}
    legacy = plan.portfolio
    if legacy and (legacy.closed_equity, legacy.equity_high) != (existing.equity_after, existing.equity_high_after):
        plan.notes.append(f"the opening balance #{existing.pk} was booked from closed equity {existing.equity_after} / "
                          f"high {existing.equity_high_after}; the legacy database now says {legacy.closed_equity} / "
                          f"{legacy.equity_high}: nothing is changed (books are carried over once)")


def legacy_import_plan(*, snapshot: LegacySnapshot, force: bool = False, tz: str = IST) -> ImportPlan:
    """Everything the import would write, what it would leave, and every row it cannot map.  Reads only."""
    plan = ImportPlan(database=snapshot.database, read_only=snapshot.read_only)
    plan.pyramiding_rows = snapshot.pyramiding
    if snapshot.missing_tables:
        plan.notes.append(f"legacy tables absent (optional): {', '.join(snapshot.missing_tables)}")
    positions, signals = _map_rows(snapshot, plan, tz)
    _plan_positions(plan, positions)
    _plan_portfolio(plan)
    seen = selectors.seen_fingerprints(s.fingerprint for s in signals)
    plan.signals = [s for s in signals if s.fingerprint not in seen]
    plan.signals_already_seen = len(signals) - len(plan.signals)
    own = selectors.own_positions()
    if own and plan.changes and not force:
        listed = ", ".join(f"{p['label']} #{p['id']} ({p['status']})" for p in own[:5])
        plan.refusal = (f"this database already trades: {len(own)} position(s) not from an import ({listed}"
                        f"{', …' if len(own) > 5 else ''}). Importing would merge two books; rerun with {FORCE_FLAG} "
                        "only if that is what you want")
    return plan


def _opening_note(plan: ImportPlan) -> str:
    p, db = plan.portfolio, plan.database
    by_type = ", ".join(f"{k} ×{v['count']} = {v['sum']}" for k, v in p.ledger["by_type"].items()) or "empty"
    return (f"Books carried over from the legacy system ({db.get('dbname')} on {db.get('host')}): initial capital "
            f"{p.initial_capital}, closed equity {p.closed_equity}, equity high {p.equity_high}. Legacy ledger: "
            f"{by_type}.")[:2000]


def legacy_import_apply(*, plan: ImportPlan, actor: str) -> dict:
    """Write the plan in one transaction; returns what was written.  The plan must be applicable."""
    if not plan.applicable:
        raise ValueError("the plan has unmappable rows or was refused; nothing may be written")
    written = {"positions": [], "opening_balance": None, "pyramiding": [], "signals": 0}
    if not plan.changes:
        return written
    try:
        with transaction.atomic():
            for code in sorted({p.instrument for p in plan.positions} | {p.instrument for p in plan.pyramiding}):
                instrument_lock(code)  # every position writer's lock order: instrument → portfolio → position
            if plan.opening == "new":
                entry = portfolio_open_balance(
                    initial_capital=plan.portfolio.initial_capital, closed_equity=plan.portfolio.closed_equity,
                    equity_high=plan.portfolio.equity_high, actor=actor, note=_opening_note(plan))
                written["opening_balance"] = entry.pk if entry else None
            state = locked_state()
            for mapped in plan.positions:
                written["positions"].append(position_create(**mapped.values).pk)
            ids = selectors.position_ids_by_legacy_key(p.base_legacy_key for p in plan.pyramiding if p.base_legacy_key)
            for pyramiding in plan.pyramiding:
                base = selectors.position_by_id(ids[pyramiding.base_legacy_key]) if pyramiding.base_legacy_key else None
                pyramiding_restore(instrument=pyramiding.instrument, base_position=base,
                                   last_pyramid_price=pyramiding.last_pyramid_price)
                written["pyramiding"].append(pyramiding.instrument)
            totals_refresh(state=state)
            for mapped in plan.signals:
                inserted = signal_record_seen(
                    fingerprint=mapped.fingerprint, signal_type=mapped.signal_type, instrument=mapped.instrument,
                    position=mapped.position, signal_timestamp=mapped.signal_timestamp,
                    received_at=mapped.received_at, payload=mapped.payload, detail=mapped.detail)
                written["signals"] += inserted is not None
            audit_record(actor=actor, action="legacy_import", target_type="portfolio", target_id="1",
                         note=f"imported from {plan.database.get('dbname')} on {plan.database.get('host')}",
                         details={"positions": written["positions"], "opening_balance": written["opening_balance"],
                                  "pyramiding": written["pyramiding"], "signals": written["signals"]})
    except IntegrityError as exc:
        raise ImportFailed(f"our books changed while importing ({exc}); nothing was written: run it again") from None
    except ValidationError as exc:
        raise ImportFailed(f"refused: {'; '.join(exc.messages)}; nothing was written") from None
    return written


def reconciliation_preview(*, plan: ImportPlan, broker=None) -> dict:
    """What the reconciliation after the import would find, without recording anything: our books
    plus the planned positions (negative ids, listed in ``planned``) against the broker's book now."""
    from django.utils import timezone

    from positions.broker import BrokerError
    from positions.broker.factory import get_broker
    from reconciliation.rules import HeldPosition, reconcile
    from reconciliation.selectors import held_positions, instrument_refs

    refs = instrument_refs()
    exchanges = {ref.code: ref.exchange for ref in refs}
    planned, names = [], {}
    for number, mapped in enumerate(plan.positions, 1):
        v = mapped.values
        planned.append(HeldPosition(position_id=-number, instrument=mapped.instrument,
                                    exchange=exchanges[mapped.instrument], quantity=v["quantity"],
                                    futures_symbol=v["futures_symbol"], pe_symbol=v["pe_symbol"],
                                    ce_symbol=v["ce_symbol"]))
        names[str(-number)] = v["label"]
    report = {"run_id": None, "started_at": timezone.now().isoformat(), "items": [], "other_symbols": [],
              "in_flight": [], "planned": names}
    try:
        rows = (broker or get_broker()).positions()
    except BrokerError as exc:
        return {**report, "outcome": "broker_unavailable", "error": f"{type(exc).__name__}: {exc}"[:500]}
    comparison = reconcile(positions=[*held_positions(), *planned], broker_positions=rows, instruments=refs)
    return {**report, "outcome": comparison.outcome, "items": [item.as_dict() for item in comparison.items],
            "other_symbols": list(comparison.other_symbols)}


def paper_book_seed(*, broker=None) -> list[dict]:
    """Shadow run only: make the paper broker hold what our books hold in the contracts of the imported
    positions (LIMIT orders at the legs' entry prices), so the shadow reconciles like production and
    its exits flatten the paper book.  Places only the difference, so a second run places nothing.
    Refuses any broker but the paper broker: this must never reach a real one."""
    from positions.broker.base import OrderRequest
    from positions.broker.factory import get_broker
    from positions.broker.paper import PaperBroker
    from reconciliation.rules import broker_book, expected_book
    from reconciliation.selectors import held_positions

    broker = broker or get_broker()
    if not isinstance(broker, PaperBroker):
        raise ValueError("seeding the paper book needs BROKER=paper (a shadow instance); refused for "
                         f"{type(broker).__name__}")
    prices = selectors.imported_leg_prices()
    expected = {key: quantity for key, (quantity, _i, _ids) in expected_book(held_positions()).items()}
    held = broker_book(broker.positions())
    placed = []
    for (symbol, exchange), price in sorted(prices.items()):
        missing = expected.get((symbol, exchange), 0) - held.get((symbol, exchange), 0)
        if missing == 0:
            continue
        action = "BUY" if missing > 0 else "SELL"
        order_id = broker.place_order(OrderRequest(
            client_order_id=f"legacy-seed-{symbol}-{len(placed)}"[:64], symbol=symbol, exchange=exchange,
            action=action, quantity=abs(missing), price_type="LIMIT", price=price))
        placed.append({"symbol": symbol, "exchange": exchange, "action": action, "quantity": abs(missing),
                       "price": str(price), "order_id": order_id})
    return placed
