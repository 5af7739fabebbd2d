"""What the broker says about a contract, read once before its first order (DESIGN §15.1)."""

from __future__ import annotations

from django.db import models


class BrokerContract(models.Model):
    """The broker's lot size of a contract: its quantity unit must be the one our instrument sends."""

    symbol = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    lot_size = models.PositiveIntegerField(help_text="Broker quantity of one lot (/symbol lotsize)")
    checked_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange", "symbol"]
        constraints = [models.UniqueConstraint(fields=["symbol", "exchange"], name="broker_contract_unique")]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol} lot {self.lot_size}"
