"""The market calendar (DESIGN §15.3): each exchange's session, its holidays and special sessions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from core.dbutils import choices_constraint
from portfolio.models import Exchange
from portfolio.sessions import rules_problems


class HolidayClosure(models.TextChoices):
    FULL = "full", "Whole day closed"
    MORNING = "morning", "Morning session closed (evening open)"
    EVENING = "evening", "Evening session closed (morning open)"


class Holiday(models.Model):
    """An exchange trading holiday.  MCX also closes only one of its two sessions on some days."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    date = models.DateField()
    description = models.CharField(max_length=120, blank=True)
    closed = models.CharField(
        max_length=8, choices=HolidayClosure.choices, default=HolidayClosure.FULL,
        help_text="Which part of the day is closed (partial closures need an evening session on the exchange)",
    )

    class Meta:
        ordering = ["date", "exchange"]
        permissions = [("import_holidays", "Can import holiday lists (CSV)")]
        constraints = [
            choices_constraint("exchange", Exchange, "holiday_exchange_valid"),
            choices_constraint("closed", HolidayClosure, "holiday_closed_valid"),
            models.UniqueConstraint(fields=["exchange", "date"], name="holiday_unique_per_exchange"),
        ]

    def __str__(self) -> str:
        part = "" if self.closed == HolidayClosure.FULL else f" ({self.get_closed_display()})"
        return f"{self.exchange} {self.date:%Y-%m-%d} {self.description}{part}"


class ExchangeSession(models.Model):
    """An exchange's regular weekday session, IST (DESIGN §15.3; rules in portfolio/sessions.py)."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices, primary_key=True)
    opens = models.TimeField(help_text="IST")
    closes = models.TimeField(help_text="IST; the close itself is outside the session")
    closes_us_dst = models.TimeField(
        null=True, blank=True,
        help_text="IST close while the US observes daylight saving time (America/New_York); empty: as above",
    )
    evening_opens = models.TimeField(
        null=True, blank=True,
        help_text="IST start of the evening session (MCX 17:00): a partial holiday closes the part before or "
                  "after it; empty: one session",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exchange"]
        constraints = [
            choices_constraint("exchange", Exchange, "session_exchange_valid"),
            models.CheckConstraint(condition=Q(closes__gt=F("opens")), name="session_closes_after_opening"),
            models.CheckConstraint(condition=Q(closes_us_dst__isnull=True) | Q(closes_us_dst__gt=F("opens")),
                                   name="session_dst_close_after_opening"),
            models.CheckConstraint(
                condition=Q(evening_opens__isnull=True) | Q(evening_opens__gt=F("opens"), evening_opens__lt=F("closes")),
                name="session_evening_inside_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exchange} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None:
            problems = rules_problems(opens=self.opens, closes=self.closes, closes_us_dst=self.closes_us_dst,
                                      evening_opens=self.evening_opens)
            if problems:
                raise ValidationError(problems)


class SpecialSession(models.Model):
    """A trading session on a day the exchange is normally closed, or with other hours (a weekend Budget
    session, Muhurat trading).  It replaces the day's normal hours; times left empty are not yet
    published, and the day then follows its normal rules."""

    exchange = models.CharField(max_length=8, choices=Exchange.choices)
    date = models.DateField()
    opens = models.TimeField(null=True, blank=True, help_text="IST; empty while not yet published")
    closes = models.TimeField(null=True, blank=True, help_text="IST; empty while not yet published")
    description = models.CharField(max_length=160, blank=True)

    class Meta:
        ordering = ["date", "exchange"]
        constraints = [
            choices_constraint("exchange", Exchange, "special_session_exchange_valid"),
            models.UniqueConstraint(fields=["exchange", "date"], name="special_session_unique_per_exchange"),
            models.CheckConstraint(
                condition=Q(opens__isnull=True, closes__isnull=True)
                | Q(opens__isnull=False, closes__isnull=False, closes__gt=F("opens")),
                name="special_session_times_valid",
            ),
        ]

    def __str__(self) -> str:
        hours = f"{self.opens:%H:%M}-{self.closes:%H:%M}" if self.opens and self.closes else "times pending"
        return f"{self.exchange} {self.date:%Y-%m-%d} {hours} {self.description}"

    def clean(self) -> None:
        if (self.opens is None) != (self.closes is None):
            raise ValidationError({"closes": "give both times, or neither while they are not yet published"})
        if self.opens is not None and self.closes <= self.opens:
            raise ValidationError({"closes": "must be after the opening time"})
