"""The leg planner (positions/legs.py): pure, so every partial fill, refusal and retry is tried here
without a broker or a database, and the Bank Nifty rule is checked at every instant."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from positions import legs
from positions.legs import DONE, PENDING, WORKING, Order

SIGN = {("CE", "BUY"): 1, ("CE", "SELL"): -1, ("PE", "SELL"): -1, ("PE", "BUY"): 1, ("FUT", "BUY"): 1,
        ("FUT", "SELL"): -1}


def order(id_, purpose, leg, action, quantity, filled=0, state=PENDING, error=""):
    return Order(id=id_, purpose=purpose, leg=leg, action=action, quantity=quantity, filled=filled, state=state,
                 error=error)


class Book:
    """A broker's net holdings per leg, and a run of the planner against scripted fills."""

    def __init__(self, fills):
        self.net = {"CE": 0, "PE": 0, "FUT": 0}
        self.fills = iter(fills)  # fraction of each order sent that fills (0 = refused)
        self.orders: list[Order] = []
        self.snapshots: list[dict] = []

    def send(self, index: int, quantity: int) -> None:
        o = self.orders[index]
        filled = int(quantity * next(self.fills, 1.0))
        self.orders[index] = replace(o, quantity=quantity, filled=filled, state=DONE,
                                     error="" if filled == quantity else "rejected")
        self.net[o.leg] += SIGN[(o.leg, o.action)] * filled
        self.snapshots.append(dict(self.net))


def run_entry(legs_, target, fills, *, max_steps=60):
    book = Book(fills)
    book.orders = [order(1, "entry", legs_[0], "BUY", target)]
    if legs_ == ("CE", "PE"):
        book.orders.append(order(2, "entry", "PE", "SELL", target))
    for _ in range(max_steps):
        step = legs.entry_step(legs=legs_, orders=book.orders)
        if step.kind in (legs.OPEN, legs.FAIL):
            return step, book
        _apply(book, step)
    raise AssertionError("the entry never settled")


def run_exit(legs_, quantity, fills, *, held, max_steps=80):
    book = Book(fills)
    book.net.update(held)
    remaining, booked = quantity, []
    for _ in range(max_steps):
        step = legs.exit_step(legs=legs_, quantity=remaining, orders=book.orders)
        if step.kind == legs.BOOK:
            booked.append(step.quantity)
            remaining -= step.quantity
            book.orders = []  # the booked fills follow the part they closed
            if remaining == 0:
                return booked, book
            continue
        _apply(book, step)
    raise AssertionError("the exit never finished")


def _apply(book: Book, step: legs.Step) -> None:
    if step.kind == legs.SEND:
        index = next(i for i, o in enumerate(book.orders) if o.id == step.order_id)
        book.send(index, step.quantity)
    elif step.kind == legs.CANCEL:
        index = next(i for i, o in enumerate(book.orders) if o.id == step.order_id)
        book.orders[index] = replace(book.orders[index], state=DONE, error=legs.WITHDRAWN)
    elif step.kind in (legs.CREATE, legs.RETRY):
        book.orders.append(order(len(book.orders) + 100, step.purpose, step.leg, step.action, step.quantity))
    else:
        raise AssertionError(f"unexpected step {step}")


def test_futures_entry_opens_with_what_filled():
    assert run_entry(("FUT",), 5, [1.0])[0] == legs.Step(legs.OPEN, quantity=5)
    assert run_entry(("FUT",), 5, [0.6])[0] == legs.Step(legs.OPEN, quantity=3)
    assert run_entry(("FUT",), 5, [0.0])[0].kind == legs.FAIL


def test_bank_nifty_entry_buys_the_call_first_and_sells_puts_only_for_calls_bought():
    step, book = run_entry(("CE", "PE"), 90, [1.0, 1.0])
    assert step == legs.Step(legs.OPEN, quantity=90)
    assert [(o.leg, o.action) for o in book.orders] == [("CE", "BUY"), ("PE", "SELL")]
    step, book = run_entry(("CE", "PE"), 90, [2 / 3, 1.0])  # 60 calls bought: 60 puts sold
    assert step.quantity == 60 and book.orders[1].quantity == 60


def test_bank_nifty_entry_with_the_put_refused_sells_the_calls_back_until_flat():
    step, book = run_entry(("CE", "PE"), 90, [1.0, 0.0, 0.0, 0.0, 1.0])  # two reversals refused, third fills
    assert step.kind == legs.FAIL
    assert book.net == {"CE": 0, "PE": 0, "FUT": 0}
    assert [o.purpose for o in book.orders] == ["entry", "entry", "reversal", "reversal", "reversal"]


def test_bank_nifty_entry_with_the_put_part_filled_keeps_the_pair_and_sells_the_rest_of_the_calls():
    step, book = run_entry(("CE", "PE"), 90, [1.0, 1 / 3, 1.0])
    assert step == legs.Step(legs.OPEN, quantity=30)
    assert book.net == {"CE": 30, "PE": -30, "FUT": 0}


def test_an_entry_whose_call_bought_nothing_never_sends_the_put():
    step, book = run_entry(("CE", "PE"), 90, [0.0])
    assert step.kind == legs.FAIL and book.orders[1].error == legs.WITHDRAWN
    assert len(book.snapshots) == 1


def test_exit_retries_until_sold_and_books_each_part():
    booked, book = run_exit(("FUT",), 4, [0.0, 0.0, 0.5, 1.0], held={"FUT": 4})
    assert booked == [2, 2] and book.net["FUT"] == 0
    step = legs.exit_step(legs=("FUT",), quantity=4, orders=[order(1, "exit", "FUT", "SELL", 4, 0, DONE, "r")])
    assert step.kind == legs.RETRY  # after a refusal: the caller paces the next attempt


def test_bank_nifty_exit_buys_the_put_back_first_and_the_call_catches_up():
    booked, book = run_exit(("CE", "PE"), 90, [2 / 3, 0.5, 1.0, 1.0, 1.0], held={"CE": 90, "PE": -90})
    assert booked == [60, 30] and book.net == {"CE": 0, "PE": 0, "FUT": 0}


def test_a_call_withdrawn_with_its_put_is_a_first_attempt_once_the_put_fills():
    """The put's buy-back was refused (say, the market was closed) and the call withdrawn with it: once
    a later put fills, the call is a first attempt (sent at once), not a retry to be paced."""
    orders = [order(1, "exit", "PE", "BUY", 90, 0, DONE, "not sent: market_closed"),
              order(2, "exit", "CE", "SELL", 90, 0, DONE, legs.WITHDRAWN),
              order(3, "exit", "PE", "BUY", 90, 90, DONE)]
    step = legs.exit_step(legs=("CE", "PE"), quantity=90, orders=orders)
    assert (step.kind, step.leg, step.quantity, step.reason) == (legs.CREATE, "CE", 90, "")


def test_working_orders_are_waited_for():
    orders = [order(1, "exit", "PE", "BUY", 90, 0, WORKING), order(2, "exit", "CE", "SELL", 90)]
    assert legs.exit_step(legs=("CE", "PE"), quantity=90, orders=orders) == legs.Step(legs.WAIT, order_id=1)


fractions = st.lists(st.sampled_from([0.0, 1 / 3, 0.5, 2 / 3, 1.0]), min_size=0, max_size=30)


@settings(max_examples=300, deadline=None)
@given(entry_fills=fractions, exit_fills=fractions, lots=st.integers(1, 6))
def test_bank_nifty_never_short_a_put_beyond_its_calls_at_any_instant(entry_fills, exit_fills, lots):
    target = 30 * lots
    step, entry = run_entry(("CE", "PE"), target, [*entry_fills, *[1.0] * 40])
    assert all(-s["PE"] <= s["CE"] for s in entry.snapshots)
    assert entry.net["CE"] == -entry.net["PE"] == (step.quantity if step.kind == legs.OPEN else 0)
    if step.kind == legs.OPEN:
        _booked, out = run_exit(("CE", "PE"), step.quantity, [*exit_fills, *[1.0] * 40], held=entry.net)
        assert all(-s["PE"] <= s["CE"] for s in out.snapshots)
        assert out.net == {"CE": 0, "PE": 0, "FUT": 0}


# --- rollover phases: pair_step -------------------------------------------------------------------

CLOSE_BN, OPEN_BN = (("PE", "BUY"), ("CE", "SELL")), (("CE", "BUY"), ("PE", "SELL"))


def pair(orders, target=90, legs_=CLOSE_BN, purpose="rollover_close"):
    first, second = legs_
    return legs.pair_step(first=first, second=second, target=target, orders=orders, purpose=purpose)


def test_a_rollover_phase_starts_with_its_first_leg_and_completes_only_whole():
    assert pair([]) == legs.Step(legs.CREATE, leg="PE", action="BUY", purpose="rollover_close", quantity=90)
    step = pair([order(1, "rollover_close", "PE", "BUY", 90, 90, DONE)])
    assert (step.kind, step.leg, step.action, step.quantity) == (legs.CREATE, "CE", "SELL", 90)
    done = [order(1, "rollover_close", "PE", "BUY", 90, 90, DONE), order(2, "rollover_close", "CE", "SELL", 90, 90, DONE)]
    assert pair(done) == legs.Step(legs.COMPLETE, purpose="rollover_close", quantity=90)


def test_a_part_filled_first_leg_is_paired_then_tried_again_for_the_rest():
    orders = [order(1, "rollover_open", "CE", "BUY", 90, 60, DONE, "cancelled")]
    step = pair(orders, legs_=OPEN_BN, purpose="rollover_open")
    assert (step.kind, step.leg, step.action, step.quantity) == (legs.CREATE, "PE", "SELL", 60)  # pair what is held
    orders.append(order(2, "rollover_open", "PE", "SELL", 60, 60, DONE))
    step = pair(orders, legs_=OPEN_BN, purpose="rollover_open")
    assert (step.kind, step.leg, step.quantity, step.reason) == (legs.RETRY, "CE", 30, "cancelled")  # paced


def test_a_refused_open_is_retried_never_given_up():
    orders = [order(1, "rollover_open", "FUT", "BUY", 3, 0, DONE, "rejected: margin")]
    step = legs.pair_step(first=("FUT", "BUY"), second=None, target=3, orders=orders, purpose="rollover_open")
    assert (step.kind, step.quantity, step.reason) == (legs.RETRY, 3, "rejected: margin")


def test_a_pending_second_leg_takes_the_unpaired_quantity_and_is_withdrawn_when_nothing_is_unpaired():
    orders = [order(1, "rollover_close", "PE", "BUY", 90, 30, DONE, "x"), order(2, "rollover_close", "CE", "SELL", 90)]
    assert pair(orders) == legs.Step(legs.SEND, order_id=2, quantity=30)
    orders = [order(1, "rollover_close", "PE", "BUY", 90, 0, DONE, "x"), order(2, "rollover_close", "CE", "SELL", 90)]
    assert pair(orders) == legs.Step(legs.CANCEL, order_id=2)


@settings(max_examples=300, deadline=None)
@given(fills=fractions, lots=st.integers(1, 6), opening=st.booleans())
def test_a_rollover_phase_never_leaves_a_put_uncovered_and_ends_whole(fills, lots, opening):
    """Any sequence of part fills and refusals: the second leg never passes the first, and the phase
    completes with the whole quantity of both legs once the broker fills."""
    target = 30 * lots
    first, second = OPEN_BN if opening else CLOSE_BN
    fill_iter = iter(fills)
    orders: list[Order] = []
    led = followed = 0
    for _ in range(200):
        step = legs.pair_step(first=first, second=second, target=target, orders=orders, purpose="p")
        if step.kind == legs.COMPLETE:
            break
        assert step.kind in (legs.CREATE, legs.RETRY)
        filled = int(step.quantity * next(fill_iter, 1.0))
        orders.append(order(len(orders) + 1, "p", step.leg, step.action, step.quantity, filled, DONE,
                            "" if filled == step.quantity else "short"))
        led, followed = (led + filled, followed) if step.leg == first[0] else (led, followed + filled)
        assert followed <= led <= target
    assert step == legs.Step(legs.COMPLETE, purpose="p", quantity=target) and led == followed == target
