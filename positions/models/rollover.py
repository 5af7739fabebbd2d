"""A rollover of one position from its contract to the next (DESIGN §8, §15.2): the saga's record.

    closing ──(old legs closed, ROLLOVER_PNL booked)──► opening ──(new legs held)──► done
       └──────────────── cancelled (an exit took over, or the position closed) ◄──────┘

Every leg is an order intent (``OrderIntent.rollover``); which step comes next is read from those
intents by the leg planner, so a process that dies anywhere resumes exactly there.  ``steps`` is the
human-readable log of what happened; ``retry_at``/``attempts``/``last_error`` pace a refused leg.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.dbutils import choices_constraint
from portfolio.models import MONEY, PRICE


class RolloverPhase(models.TextChoices):
    CLOSING = "closing", "Closing the old contract"
    OPENING = "opening", "Opening the new contract"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_PHASES = (RolloverPhase.CLOSING, RolloverPhase.OPENING)


class Rollover(models.Model):
    position = models.ForeignKey("positions.Position", on_delete=models.PROTECT, related_name="rollovers")
    number = models.PositiveSmallIntegerField(help_text="1 for the position's first rollover, and so on")
    phase = models.CharField(max_length=10, choices=RolloverPhase.choices, default=RolloverPhase.CLOSING)
    trigger = models.CharField(max_length=150, help_text="job, command or admin:<user>")
    quantity = models.PositiveIntegerField(help_text="Broker quantity per leg, closed and opened")

    old_expiry = models.DateField()
    old_strike = models.PositiveIntegerField(null=True, blank=True)
    old_futures_symbol = models.CharField(max_length=40, blank=True)
    old_ce_symbol = models.CharField(max_length=40, blank=True)
    old_pe_symbol = models.CharField(max_length=40, blank=True)
    new_expiry = models.DateField()
    new_strike = models.PositiveIntegerField(null=True, blank=True)
    new_futures_symbol = models.CharField(max_length=40, blank=True)
    new_ce_symbol = models.CharField(max_length=40, blank=True)
    new_pe_symbol = models.CharField(max_length=40, blank=True)

    close_price = models.DecimalField(null=True, blank=True, help_text="Old contract (BN: synthetic)", **PRICE)
    pnl = models.DecimalField(null=True, blank=True, help_text="ROLLOVER_PNL booked for the old contract", **MONEY)
    open_price = models.DecimalField(null=True, blank=True, help_text="New contract: the new entry price", **PRICE)

    steps = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Refused or short legs tried again")
    retry_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True, help_text="When ops were asked to step in")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["phase"], name="rollover_active",
                                condition=Q(phase__in=["closing", "opening"]))]
        constraints = [
            choices_constraint("phase", RolloverPhase, "rollover_phase_valid"),
            models.UniqueConstraint(fields=["position", "number"], name="rollover_number_unique"),
            models.UniqueConstraint(fields=["position"], condition=Q(phase__in=["closing", "opening"]),
                                    name="rollover_one_active_per_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="rollover_quantity_positive"),
            models.CheckConstraint(condition=Q(new_expiry__gt=models.F("old_expiry")),
                                   name="rollover_moves_forward"),
            models.CheckConstraint(condition=~Q(phase__in=["opening", "done"]) | Q(pnl__isnull=False),
                                   name="rollover_closed_has_pnl"),
            models.CheckConstraint(condition=~Q(phase="done") | Q(open_price__isnull=False),
                                   name="rollover_done_has_open_price"),
        ]

    def __str__(self) -> str:
        return f"rollover {self.number} of position {self.position_id} ({self.phase})"

    @property
    def old_symbols(self) -> list[str]:
        return [s for s in (self.old_futures_symbol, self.old_ce_symbol, self.old_pe_symbol) if s]

    @property
    def new_symbols(self) -> list[str]:
        return [s for s in (self.new_futures_symbol, self.new_ce_symbol, self.new_pe_symbol) if s]
