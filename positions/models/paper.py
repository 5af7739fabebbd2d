"""The paper broker's own book: its orders and net positions, kept in the database so they survive
restarts and can be reconciled exactly like a real broker's."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from core.dbutils import choices_constraint
from portfolio.models import PRICE


class PaperOrderStatus(models.TextChoices):
    COMPLETE = "complete", "Complete"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class PaperOrder(models.Model):
    order_id = models.CharField(max_length=32, unique=True)
    tag = models.CharField(max_length=64, blank=True, db_index=True, help_text="Our client order id")
    symbol = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    action = models.CharField(max_length=4)
    quantity = models.PositiveIntegerField()
    price_type = models.CharField(max_length=6)
    average_price = models.DecimalField(null=True, blank=True, **PRICE)
    status = models.CharField(max_length=10, choices=PaperOrderStatus.choices)
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [choices_constraint("status", PaperOrderStatus, "paper_order_status_valid")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.action} {self.quantity} {self.symbol}"


class PaperPosition(models.Model):
    symbol = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    net_quantity = models.IntegerField(default=0)
    average_price = models.DecimalField(default=Decimal("0"), **PRICE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange", "symbol"]
        constraints = [models.UniqueConstraint(fields=["symbol", "exchange"], name="paper_position_unique")]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol} {self.net_quantity}"
