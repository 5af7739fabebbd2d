"""Initial and trailing stops and the stop-hit test (DESIGN §7; domain-notes §5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from positions.stops import StopUpdate, initial_stop, stop_hit, trail_stop
from tests.rules_fixtures import BANK_NIFTY, GOLD_MINI

D = Decimal


def test_initial_stop_is_price_minus_atr_multiple():
    assert initial_stop(price=D("52000"), atr=D("350"), multiple=BANK_NIFTY.initial_stop_atr_multiple) == D("51475")
    assert initial_stop(price=D("72000"), atr=D("450"), multiple=GOLD_MINI.initial_stop_atr_multiple) == D("71550")


@pytest.mark.parametrize(
    ("before", "bar", "after"),
    [
        # a new high lifts the stop to 53000 − 2.5 × 300
        ((D("51475"), D("52000")), (D("53000"), D("300")), (D("52250"), D("53000"), True)),
        # the price fell back, but a smaller ATR lifts the highest close − 2.5 × ATR above the stop
        ((D("52250"), D("53000")), (D("52600"), D("200")), (D("52500"), D("53000"), True)),
        # a wider ATR never lowers the stop
        ((D("52250"), D("53000")), (D("52900"), D("600")), (D("52250"), D("53000"), False)),
        # the highest close can rise without moving the stop
        ((D("52250"), D("53000")), (D("53100"), D("600")), (D("52250"), D("53100"), False)),
    ],
)
def test_trailing_stop_update(before, bar, after):
    (current_stop, highest_close), (price, atr) = before, bar
    update = trail_stop(
        current_stop=current_stop, highest_close=highest_close, price=price, atr=atr, multiple=D("2.5")
    )
    assert update == StopUpdate(*after)


def test_stop_hit_only_strictly_below_the_stop():
    assert not stop_hit(price=D("52250"), stop=D("52250"))
    assert stop_hit(price=D("52249.95"), stop=D("52250"))
    assert not stop_hit(price=D("52250.05"), stop=D("52250"))


@pytest.mark.parametrize(("atr", "multiple"), [(D("-1"), D("2")), (D("1"), D("-2"))])
def test_negative_atr_or_multiple_is_refused(atr, multiple):
    with pytest.raises(ValueError):
        initial_stop(price=D("100"), atr=atr, multiple=multiple)
    with pytest.raises(ValueError):
        trail_stop(current_stop=D("90"), highest_close=D("100"), price=D("100"), atr=atr, multiple=multiple)


prices = st.decimals(min_value=1, max_value=200_000, places=2)
atrs = st.decimals(min_value=0, max_value=5_000, places=2)


@given(
    entry=prices,
    entry_atr=atrs,
    bars=st.lists(st.tuples(prices, atrs), max_size=60),
    multiple=st.sampled_from([D("2.0"), D("2.5"), D("3.0"), D("5.0")]),
)
def test_trailing_stop_never_decreases_over_any_price_path(entry, entry_atr, bars, multiple):
    stop, highest = initial_stop(price=entry, atr=entry_atr, multiple=D("1.5")), entry
    for price, atr in bars:
        update = trail_stop(current_stop=stop, highest_close=highest, price=price, atr=atr, multiple=multiple)
        assert update.stop >= stop and update.highest_close >= max(highest, price)
        assert update.moved == (update.stop > stop)
        stop, highest = update.stop, update.highest_close
