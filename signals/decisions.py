"""Phase 1 of executing a signal: decide, inside the transaction that holds the instrument lock.

Each ``decide_*`` reads the rows it needs, applies the rules, and either returns a terminal outcome
or writes the position(s) and order intents to be sent after commit.  Nothing here talks to a broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from portfolio.gates import Check, new_position_risk, new_position_vol, portfolio_gate, pyramid_gates
from portfolio.models import Instrument
from portfolio.selectors import instrument_params
from portfolio.services import instrument_mark, locked_state
from portfolio.sizing import size_base_entry, size_pyramid
from positions.selectors import (
    live_position,
    live_positions,
    open_pnl,
    open_positions,
    portfolio_exposure,
    pyramid_anchor,
    pyramids_since,
    rollover_exit_state,
)
from positions.services.lifecycle import STOP_HIT, positions_trail
from positions.services.planning import EntryOrder, entry_plan, exit_plan
from positions.services.rollover_run import rollover_yield_to_exit
from signals.checks import (
    age_checks,
    checks_json,
    control_checks,
    first_failure,
    outcome_for,
    session_check,
    signal_number,
)
from signals.models import SignalLog, SignalStatus, SignalType


@dataclass
class Decision:
    status: str | None  # a terminal status or ``held``, or None while orders are in flight
    reason: str = ""
    result: dict = field(default_factory=dict)
    position_ids: list[int] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status is not None


def _stop(checks: list[Check], failure: Check, **extra) -> Decision:
    status, reason = outcome_for(failure)
    return Decision(status, reason, {"checks": checks_json(checks), **extra})


def decide(signal: SignalLog) -> Decision:
    handler = {
        SignalType.BASE_ENTRY: decide_base_entry,
        SignalType.PYRAMID: decide_pyramid,
        SignalType.EXIT: decide_exit,
        SignalType.MARKET_DATA: decide_market_data,
    }.get(signal.signal_type)
    if handler is None:
        return Decision(SignalStatus.IGNORED, "not_supported", {"note": "EOD_MONITOR is logged, not acted on"})
    return handler(signal)


def _trade_date(signal: SignalLog):
    """The exchange-local date of the signal: it picks the contract, so a replay picks the same one."""
    return signal.signal_timestamp.astimezone(ZoneInfo(settings.PM_SIGNAL_TIMEZONE)).date()


def _entry_order(signal: SignalLog, instrument: Instrument, *, layer: int, sizing, stop: Decimal) -> EntryOrder:
    price, atr = signal_number(signal, "price"), signal_number(signal, "atr")
    pv = instrument.point_value
    return EntryOrder(
        layer=layer, lots=sizing.lots, limiter=sizing.limiter, price=price, atr=atr, er=signal_number(signal, "er"),
        risk=new_position_risk(price=price, stop=stop, lots=sizing.lots, point_value=pv),
        vol=new_position_vol(atr=atr, lots=sizing.lots, point_value=pv), trade_date=_trade_date(signal),
    )


def _size_and_plan(signal, instrument, checks, *, state, exposure, layer, sizing, pyramid: bool) -> Decision:
    """Sizing → portfolio gate → position + intents (shared by base entries and pyramids)."""
    checks.append(Check("zero_lots", sizing.lots > 0, sizing.as_detail()))
    if sizing.lots == 0:
        return _stop(checks, checks[-1], sizing=sizing.as_detail())
    price, stop, atr = signal_number(signal, "price"), signal_number(signal, "stop"), signal_number(signal, "atr")
    pv = instrument.point_value
    checks += portfolio_gate(
        new_risk=new_position_risk(price=price, stop=stop, lots=sizing.lots, point_value=pv),
        new_vol=new_position_vol(atr=atr, lots=sizing.lots, point_value=pv),
        existing_risk=exposure.risk, existing_vol=exposure.vol, blended_equity=exposure.blended(state),
        max_risk_percent=state.pyramid_max_risk_percent if pyramid else state.max_risk_percent,
        max_vol_percent=state.pyramid_max_vol_percent if pyramid else state.max_vol_percent,
    )
    failure = first_failure(checks)
    if failure:
        return _stop(checks, failure, sizing=sizing.as_detail())
    position = entry_plan(instrument=instrument, order=_entry_order(signal, instrument, layer=layer, sizing=sizing,
                                                                    stop=stop), signal=signal)
    return Decision(None, "", {"checks": checks_json(checks), "sizing": sizing.as_detail(),
                               "position_id": position.pk, "label": position.label}, [position.pk])


def _sizing_inputs(state, exposure):
    return {"equity_high": state.equity_high, "margin_in_use": exposure.margin_used,
            "margin_limit_percent": state.margin_limit_percent}


def decide_base_entry(signal: SignalLog) -> Decision:
    instrument = signal.instrument
    state = locked_state()
    existing = live_position(instrument=instrument.code, layer=1)
    checks = [*age_checks(signal), session_check(signal), *control_checks(state=state, instrument=instrument.code),
              Check("layer_open", existing is None, {"position_id": existing.pk if existing else None})]
    failure = first_failure(checks)
    if failure:
        return _stop(checks, failure)
    exposure = portfolio_exposure()
    sizing = size_base_entry(
        params=instrument_params(instrument), price=signal_number(signal, "price"),
        stop=signal_number(signal, "stop"), atr=signal_number(signal, "atr"), er=signal_number(signal, "er"),
        **_sizing_inputs(state, exposure),
    )
    return _size_and_plan(signal, instrument, checks, state=state, exposure=exposure, layer=1, sizing=sizing,
                          pyramid=False)


def decide_pyramid(signal: SignalLog) -> Decision:
    instrument = signal.instrument
    layer = int(signal.position.split("_")[1])
    state = locked_state()
    base, last_entry = pyramid_anchor(instrument=instrument.code)
    live = live_positions(instrument=instrument.code)
    existing = next((p for p in live if p.layer == layer), None)
    checks = [*age_checks(signal), session_check(signal), *control_checks(state=state, instrument=instrument.code),
              Check("no_base_position", base is not None, {"base_position_id": base.pk if base else None}),
              Check("layer_open", existing is None, {"position_id": existing.pk if existing else None})]
    price = signal_number(signal, "price")
    if base is not None:
        checks += pyramid_gates(
            price=price, atr=signal_number(signal, "atr"), base_entry_price=base.entry_price,
            base_initial_stop=base.initial_stop, last_entry_price=last_entry or base.signal_price,
            instrument_open_pnl=open_pnl(live, price=price, point_value=instrument.point_value),
            pyramids_since_base=pyramids_since(base=base), max_pyramids=instrument.max_pyramids,
            spacing_atr=instrument.pyramid_spacing_atr,
        )
    failure = first_failure(checks)
    if failure:
        return _stop(checks, failure)
    exposure = portfolio_exposure()
    sizing = size_pyramid(
        params=instrument_params(instrument), price=price, stop=signal_number(signal, "stop"), layer=layer,
        base_lots=base.lots, base_entry_price=base.entry_price, base_initial_stop=base.initial_stop,
        **_sizing_inputs(state, exposure),
    )
    return _size_and_plan(signal, instrument, checks, state=state, exposure=exposure, layer=layer, sizing=sizing,
                          pyramid=True)


def decide_exit(signal: SignalLog) -> Decision:
    """Exits are never blocked by age, the pause switch or a discrepancy.  Outside the exchange session
    an exit of open positions is ``held`` and runs at the next open (DESIGN §15.3); one with nothing to
    close is rejected at once, as in session."""
    code = signal.instrument_id
    if signal.position == "ALL":
        targets = open_positions(instrument=code, lock=True, attach=signal.instrument)
    else:
        live = live_position(instrument=code, layer=int(signal.position.split("_")[1]))
        targets = [live] if live is not None and live.status == "open" else []
    checks = [Check("position_not_open", bool(targets), {"position": signal.position,
                                                          "open_position_ids": [p.pk for p in targets]})]
    if not targets:
        return _stop(checks, checks[0])
    checks.append(session_check(signal))
    if not checks[-1].passed:
        return Decision(SignalStatus.HELD, "market_closed", {
            "checks": checks_json(checks),
            "held": {"at": checks[-1].detail["at"], "next_open": checks[-1].detail["next_open"],
                     "position_ids": [p.pk for p in targets]},
        })
    busy = [p.pk for p in targets if rollover_exit_state(position_id=p.pk)[0] == "busy"]
    if busy:  # a rollover leg is at the broker or part-filled: the exit runs once it has settled
        return Decision(SignalStatus.HELD, "rollover_in_progress", {
            "checks": checks_json(checks), "held": {"position_ids": busy}})
    reason = (signal.payload.get("reason") or "").strip()
    price = signal_number(signal, "price")
    planned, closed = _exits(targets, reason=reason, price=price, signal=signal)
    result = {"checks": checks_json(checks), "exits": planned, **({"closed_during_rollover": closed} if closed else {})}
    return Decision(None if planned else SignalStatus.EXECUTED, "", result, planned)


def _exits(targets: list, *, reason: str, price: Decimal, signal: SignalLog) -> tuple[list[int], list[int]]:
    """Plan the exit of each target; a position whose rollover left it flat is closed there and then.
    Returns (positions with exit orders planned, positions closed without orders)."""
    planned, closed = [], []
    for position in targets:
        verdict = rollover_yield_to_exit(position=position, reason=reason)
        if verdict == "closed":
            closed.append(position.pk)
        elif verdict == "exit" and exit_plan(position=position, reason=reason, reference_price=price, signal=signal):
            planned.append(position.pk)
    return planned, closed


def decide_market_data(signal: SignalLog) -> Decision:
    """Mark the instrument, trail every open position's stop, exit those whose stop is hit."""
    instrument = signal.instrument
    price, atr = signal_number(signal, "price"), signal_number(signal, "atr")
    if not instrument_mark(code=instrument.code, price=price, at=signal.signal_timestamp):
        # An older bar arriving after a newer one must not move stops or trigger exits on stale prices.
        return Decision(SignalStatus.EXECUTED, "", {"out_of_order": True, "stops_moved": [], "exits_triggered": []})
    positions = open_positions(instrument=instrument.code, lock=True, attach=instrument)
    trail = positions_trail(positions=positions, price=price, atr=atr,
                            multiple=instrument.trailing_stop_atr_multiple, point_value=instrument.point_value)
    # A position in the middle of a rollover leg waits for it; the next bar past the stop exits it.
    hits = [p for p in trail.stop_hits if rollover_exit_state(position_id=p.pk)[0] != "busy"]
    planned, closed = _exits(hits, reason=STOP_HIT, price=price, signal=signal)
    exits = [{"position_id": p.pk, "label": p.label, "stop": str(p.current_stop)} for p in hits if p.pk in planned]
    result = {"positions_checked": len(positions), "stops_moved": trail.stops_moved, "exits_triggered": exits}
    if closed:
        result["closed_during_rollover"] = closed
    if len(hits) < len(trail.stop_hits):
        result["stop_hits_waiting_for_rollover"] = [p.pk for p in trail.stop_hits if p not in hits]
    if not exits:
        return Decision(SignalStatus.EXECUTED, "", result)
    return Decision(None, "", result, [e["position_id"] for e in exits])
