"""Order intents: the outbox.  A row is committed before the broker is ever called.

    PENDING ──► SENT ──► ACCEPTED ──────────────► FILLED | REJECTED | CANCELLED (maybe part-filled)
       │          ├──► AWAITING_APPROVAL (semi-auto) ──► ACCEPTED … or UNRESOLVED
       │          └──► UNKNOWN (answer lost: looked up, never resent) ──► ACCEPTED … or UNRESOLVED
       └──► CANCELLED (never sent)
    UNRESOLVED (unknown past the resolution window) ──ops: link an order id / declare not placed──►

``filled_quantity`` and ``fill_price`` (volume-weighted) come from the broker's trade book; a
cancelled order may have filled part of its quantity.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from core.dbutils import choices_constraint
from portfolio.models import PRICE


class IntentPurpose(models.TextChoices):
    ENTRY = "entry", "Entry"
    EXIT = "exit", "Exit"
    REVERSAL = "reversal", "Reversal of a filled leg"
    ROLLOVER_CLOSE = "rollover_close", "Rollover: close old contract"
    ROLLOVER_OPEN = "rollover_open", "Rollover: open new contract"


class Leg(models.TextChoices):
    FUT = "FUT", "Futures"
    PE = "PE", "Put option"
    CE = "CE", "Call option"


class OrderAction(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class PriceType(models.TextChoices):
    MARKET = "MARKET", "Market"
    LIMIT = "LIMIT", "Limit"


class IntentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending (committed, not sent)"
    SENT = "SENT", "Sent (broker call in progress)"
    ACCEPTED = "ACCEPTED", "Accepted by broker, fill not confirmed"
    AWAITING_APPROVAL = "AWAITING", "Awaiting the trader's approval at the broker (semi-auto)"
    UNKNOWN = "UNKNOWN", "Outcome unknown (being looked up)"
    UNRESOLVED = "UNRESOLVED", "Unresolved: not found at the broker in time; ops must settle it"
    FILLED = "FILLED", "Filled"
    REJECTED = "REJECTED", "Rejected by broker"
    CANCELLED = "CANCELLED", "Cancelled (never sent, or cancelled at broker, maybe part-filled)"


# An intent in one of these states may still become a broker order or a fill.
OPEN_INTENT_STATUSES = (
    IntentStatus.PENDING,
    IntentStatus.SENT,
    IntentStatus.ACCEPTED,
    IntentStatus.AWAITING_APPROVAL,
    IntentStatus.UNKNOWN,
    IntentStatus.UNRESOLVED,
)
# Resolved within seconds by the worker or the sweeper: newer signals of the instrument wait for them.
# (Awaiting approval and unresolved can take long: they halt entries instead, never exits.)
QUEUE_HOLDING_STATUSES = (IntentStatus.PENDING, IntentStatus.SENT, IntentStatus.ACCEPTED, IntentStatus.UNKNOWN)
TERMINAL_INTENT_STATUSES = (IntentStatus.FILLED, IntentStatus.REJECTED, IntentStatus.CANCELLED)


class OrderIntent(models.Model):
    client_order_id = models.CharField(max_length=40, unique=True)
    position = models.ForeignKey("positions.Position", on_delete=models.PROTECT, related_name="intents")
    signal = models.ForeignKey(
        "signals.SignalLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="intents"
    )
    purpose = models.CharField(max_length=16, choices=IntentPurpose.choices)
    rollover = models.ForeignKey(
        "positions.Rollover", null=True, blank=True, on_delete=models.PROTECT, related_name="intents"
    )
    leg = models.CharField(max_length=3, choices=Leg.choices)
    sequence = models.PositiveSmallIntegerField(help_text="Send order within its batch")
    symbol = models.CharField(max_length=40)
    exchange = models.CharField(max_length=8)
    action = models.CharField(max_length=4, choices=OrderAction.choices)
    quantity = models.PositiveIntegerField()
    price_type = models.CharField(max_length=6, choices=PriceType.choices, default=PriceType.MARKET)
    limit_price = models.DecimalField(null=True, blank=True, **PRICE)
    reference_price = models.DecimalField(
        null=True, blank=True, help_text="Underlying price when decided (paper fills use it)", **PRICE
    )
    status = models.CharField(max_length=10, choices=IntentStatus.choices, default=IntentStatus.PENDING)
    broker_order_id = models.CharField(max_length=64, null=True, blank=True)
    pending_order_id = models.CharField(max_length=64, blank=True, help_text="Semi-auto: the broker's pending id")
    broker_status = models.CharField(max_length=40, blank=True, help_text="Last order status read at the broker")
    fill_price = models.DecimalField(null=True, blank=True, **PRICE)
    filled_quantity = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    modifications = models.JSONField(default=list, blank=True, help_text="Limit chase: every price change")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["status"],
                name="intent_open",
                condition=Q(status__in=["PENDING", "SENT", "ACCEPTED", "AWAITING", "UNKNOWN", "UNRESOLVED"]),
            ),
            models.Index(fields=["position", "sequence"], name="intent_position_sequence"),
        ]
        constraints = [
            choices_constraint("status", IntentStatus, "intent_status_valid"),
            choices_constraint("purpose", IntentPurpose, "intent_purpose_valid"),
            choices_constraint("leg", Leg, "intent_leg_valid"),
            choices_constraint("action", OrderAction, "intent_action_valid"),
            choices_constraint("price_type", PriceType, "intent_price_type_valid"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="intent_quantity_positive"),
            models.CheckConstraint(
                condition=~Q(status="FILLED") | Q(fill_price__isnull=False, filled_quantity=F("quantity")),
                name="intent_filled_has_fill",
            ),
            models.CheckConstraint(
                condition=Q(filled_quantity__lte=F("quantity")) & (Q(filled_quantity=0) | Q(fill_price__isnull=False)),
                name="intent_fill_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=["rollover_close", "rollover_open"], rollover__isnull=False)
                | (~Q(purpose__in=["rollover_close", "rollover_open"]) & Q(rollover__isnull=True)),
                name="intent_rollover_legs_name_their_rollover",
            ),
            models.UniqueConstraint(
                fields=["broker_order_id"],
                condition=Q(broker_order_id__isnull=False),
                name="intent_one_intent_per_broker_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.action} {self.quantity} {self.symbol} ({self.status})"
