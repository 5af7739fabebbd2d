"""How an entry or an exit proceeds leg by leg: pure, the orders so far in, the next step out.

The next step depends only on the orders already recorded (their quantities, fills and whether
each is pending, working or done), so any process can pick a position up after a crash and carry
on exactly where the last one stopped.

Bank Nifty's long synthetic future is long CE + short PE.  The broker must never hold a short put
without the call that covers it, so:

* an entry BUYS the CE first, then SELLS the PE for at most what the CE bought; CE bought beyond
  what the PE sold is sold back (a reversal) until the legs are equal: the position opens with the
  paired quantity (or fails when nothing paired);
* an exit BUYS the PE back first, then SELLS the CE for what the PE bought (more CE sells until it
  has caught up); each pair closed is booked at once, and the rest of the position is tried again.

Futures have one leg.  Any leg may fill partly; a refused or unanswered exit is tried again, never
dropped (the caller decides when: at once, after a backoff, or at the next session open).
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, WORKING, DONE = "pending", "working", "done"
WITHDRAWN = "not sent: its first leg filled nothing"  # the error of a second leg cancelled by CANCEL

# Step kinds.
SEND = "send"          # send the pending order ``order_id`` with ``quantity`` (resized when it differs)
CANCEL = "cancel"      # a pending second leg must never go out (its first leg bought or sold nothing)
CREATE = "create"      # record and send a new order (leg, action, purpose, quantity)
RETRY = "retry"        # like CREATE, but after the previous attempt failed: the caller paces it
WAIT = "wait"          # orders are working at the broker: look them up
OPEN = "open"          # the entry is complete: open with ``quantity`` per leg
FAIL = "fail"          # the entry is complete with nothing held
BOOK = "book"          # close ``quantity`` per leg (all of it, or a part) and book its P&L
COMPLETE = "complete"  # a rollover phase holds (or has closed) its whole ``quantity`` per leg


@dataclass(frozen=True)
class Order:
    """An order intent as the planner sees it."""

    id: int
    purpose: str  # entry | exit | reversal
    leg: str  # FUT | CE | PE
    action: str  # BUY | SELL
    quantity: int
    filled: int
    state: str  # pending | working | done
    error: str = ""

    @property
    def fell_short(self) -> bool:
        """Done with less than its quantity filled — refused, cancelled, lost — but not a second leg
        withdrawn because its first leg filled nothing (that one never had its chance)."""
        return self.state == DONE and self.filled < self.quantity and self.error != WITHDRAWN


@dataclass(frozen=True)
class Step:
    kind: str
    order_id: int | None = None
    leg: str = ""
    action: str = ""
    purpose: str = ""
    quantity: int = 0
    reason: str = ""


def _filled(orders: list[Order], leg: str, purpose: str) -> int:
    return sum(o.filled for o in orders if o.leg == leg and o.purpose == purpose)


def _of(orders: list[Order], leg: str, purpose: str) -> list[Order]:
    return [o for o in orders if o.leg == leg and o.purpose == purpose]


def _reason(orders: list[Order]) -> str:
    """Why the last done order of these fell short (its error), for the caller's outcome."""
    short = [o for o in orders if o.fell_short]
    return short[-1].error if short else ""


def _send_or_wait(orders: list[Order], quantity: int | None = None) -> Step | None:
    """The first order still going: wait while it works, send it while it is pending."""
    for order in orders:
        if order.state == WORKING:
            return Step(WAIT, order_id=order.id)
        if order.state == PENDING:
            return Step(SEND, order_id=order.id, quantity=order.quantity if quantity is None else quantity)
    return None


def entry_step(*, legs: tuple[str, ...], orders: list[Order]) -> Step:
    """The next step of an entry whose first order(s) were recorded when it was decided."""
    if legs == ("FUT",):
        going = _send_or_wait(_of(orders, "FUT", "entry"))
        if going:
            return going
        bought = _filled(orders, "FUT", "entry")
        return Step(OPEN, quantity=bought) if bought else Step(FAIL, reason=_reason(orders))
    calls, puts, reversals = _of(orders, "CE", "entry"), _of(orders, "PE", "entry"), _of(orders, "CE", "reversal")
    going = _send_or_wait(calls)
    if going:
        return going
    bought = _filled(orders, "CE", "entry")
    if bought == 0:
        pending_put = next((o for o in puts if o.state == PENDING), None)
        return Step(CANCEL, order_id=pending_put.id) if pending_put else Step(FAIL, reason=_reason(calls))
    going = _send_or_wait(puts, quantity=bought)  # never short more puts than calls bought
    if going:
        return going
    going = _send_or_wait(reversals)
    if going:
        return going
    excess = bought - _filled(orders, "PE", "entry") - _filled(orders, "CE", "reversal")
    if excess > 0:
        kind = RETRY if any(o.fell_short for o in reversals) else CREATE
        return Step(kind, leg="CE", action="SELL", purpose="reversal", quantity=excess, reason=_reason(puts + reversals))
    paired = _filled(orders, "PE", "entry")
    return Step(OPEN, quantity=paired) if paired else Step(FAIL, reason=_reason(puts))


def exit_step(*, legs: tuple[str, ...], quantity: int, orders: list[Order]) -> Step:
    """The next step of closing ``quantity`` per leg, given the exit orders not yet booked."""
    first, action = ("FUT", "SELL") if legs == ("FUT",) else ("PE", "BUY")
    firsts = _of(orders, first, "exit")
    going = _send_or_wait(firsts)
    if going:
        return going
    done_first = _filled(orders, first, "exit")
    if legs == ("FUT",):
        if done_first:
            return Step(BOOK, quantity=done_first)
        return _again(firsts, leg=first, action=action, quantity=quantity)
    calls = _of(orders, "CE", "exit")
    if done_first == 0:
        pending_call = next((o for o in calls if o.state == PENDING), None)
        if pending_call:
            return Step(CANCEL, order_id=pending_call.id)
        return _again(firsts, leg=first, action=action, quantity=quantity)
    sold = _filled(orders, "CE", "exit")
    going = _send_or_wait(calls, quantity=done_first - sold)
    if going:
        return going
    if sold < done_first:
        kind = RETRY if any(o.fell_short for o in calls) else CREATE
        return Step(kind, leg="CE", action="SELL", purpose="exit", quantity=done_first - sold, reason=_reason(calls))
    return Step(BOOK, quantity=done_first)


def _again(firsts: list[Order], *, leg: str, action: str, quantity: int) -> Step:
    """Nothing of the first leg filled: a first attempt, or another one after a failure."""
    kind = RETRY if firsts else CREATE
    return Step(kind, leg=leg, action=action, purpose="exit", quantity=quantity, reason=_reason(firsts))


def pair_step(*, first: tuple[str, str], second: tuple[str, str] | None, target: int, orders: list[Order],
              purpose: str) -> Step:
    """The next step of a rollover phase: bring the ``first`` (leg, action) to ``target`` filled and the
    ``second`` after it, never past what the first has filled — until both are whole (COMPLETE).

    Unlike an entry, a rollover never settles for part: a part-filled or refused leg is tried again
    for the rest (RETRY, paced by the caller) until the whole quantity is held.  Closing Bank Nifty
    leads with BUY PE (then SELL CE); opening leads with BUY CE (then SELL PE): the broker never
    holds a short put beyond its call.
    """
    firsts = [o for o in orders if o.leg == first[0]]
    going = _send_or_wait(firsts)
    if going:
        return going
    led = sum(o.filled for o in firsts)
    if second is not None:
        seconds = [o for o in orders if o.leg == second[0]]
        followed = sum(o.filled for o in seconds if o.state != PENDING)
        unpaired = led - followed
        pending = next((o for o in seconds if o.state == PENDING), None)
        if pending is not None and unpaired <= 0:
            return Step(CANCEL, order_id=pending.id)
        going = _send_or_wait(seconds, quantity=unpaired)
        if going:
            return going
        if unpaired > 0:
            return _next_attempt(seconds, second, purpose, unpaired)
    if led < target:
        return _next_attempt(firsts, first, purpose, target - led)
    return Step(COMPLETE, purpose=purpose, quantity=target)


def _next_attempt(orders: list[Order], leg_action: tuple[str, str], purpose: str, quantity: int) -> Step:
    kind = RETRY if any(o.fell_short for o in orders) else CREATE
    return Step(kind, leg=leg_action[0], action=leg_action[1], purpose=purpose, quantity=quantity,
                reason=_reason(orders))
