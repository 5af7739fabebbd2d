"""Shared set-ups for the recovery tests: positions sharing contracts, and broker books."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from positions.broker.openalgo import OpenAlgoBroker
from positions.models import PaperPosition
from tests.factories import make_position
from tests.fakes.openalgo_server import FakeOpenAlgo

GOLD = "GOLDM05FEB26FUT"
PE, CE = "BANKNIFTY24FEB2652000PE", "BANKNIFTY24FEB2652000CE"


def shared_contracts() -> dict[str, object]:
    """Gold Mini base + 2 pyramids on one contract (4 + 2 + 1 lots), Bank Nifty base + pyramid on one
    strike (2 + 1 lots = 90 units per leg)."""
    return {
        "gold_base": make_position("GOLD_MINI", 1, lots=4),
        "gold_pyr1": make_position("GOLD_MINI", 2, lots=2, price="72600"),
        "gold_pyr2": make_position("GOLD_MINI", 3, lots=1, price="73100"),
        "bank_base": make_position("BANK_NIFTY", 1, lots=2, price="52000", pe_entry_price=Decimal("150"),
                                   ce_entry_price=Decimal("150")),
        "bank_pyr": make_position("BANK_NIFTY", 2, lots=1, price="52000", pe_entry_price=Decimal("150"),
                                  ce_entry_price=Decimal("150")),
    }


CONSISTENT_BOOK = {(GOLD, "MCX"): 7, (PE, "NFO"): -90, (CE, "NFO"): 90}


class PaperBook:
    """The paper broker's own book (its PaperPosition table)."""

    def __init__(self):
        from positions.broker.paper import PaperBroker

        self.broker = PaperBroker()

    def set(self, symbol: str, exchange: str, quantity: int, average_price="0") -> None:
        PaperPosition.objects.update_or_create(symbol=symbol, exchange=exchange, defaults={
            "net_quantity": quantity, "average_price": Decimal(str(average_price))})


class OpenAlgoBook:
    """The fake OpenAlgo server's positionbook, read through the real OpenAlgo adapter."""

    def __init__(self, server: FakeOpenAlgo):
        self.server = server
        self.broker = OpenAlgoBroker(base_url=server.url, api_key="test-key", retry_backoff=0.01, read_retries=1,
                                     timeout=httpx.Timeout(1.0, connect=0.5))

    def set(self, symbol: str, exchange: str, quantity: int, average_price="100") -> None:
        self.server.set_position(symbol, exchange, quantity, average_price)


@pytest.fixture(params=["paper", "openalgo"])
def book(request):
    if request.param == "paper":
        yield PaperBook()
        return
    with FakeOpenAlgo(api_key="test-key") as server:
        adapter = OpenAlgoBook(server)
        yield adapter
        adapter.broker.close()


def fill(book, positions: dict[tuple[str, str], int]) -> None:
    for (symbol, exchange), quantity in positions.items():
        book.set(symbol, exchange, quantity)
