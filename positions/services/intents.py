"""Every write of an ``OrderIntent``: the one owner of the outbox state machine.

    PENDING ──► SENT ──► ACCEPTED ──► FILLED
       │          │          │    └──► REJECTED / CANCELLED
       │          └──► UNKNOWN (looked up, never resent) ──► ACCEPTED / FILLED / REJECTED / CANCELLED
       └──► CANCELLED (never sent)

A row is created (PENDING) in the transaction that decides the order, before any broker call.  Each
transition locks the row (``SELECT … FOR UPDATE``) and applies only if the row is still in one of the
expected source states, so two actors (a slow worker and the sweeper, say) can never both send the
same intent: ``PENDING → SENT`` succeeds once.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from positions.models import IntentStatus, OrderIntent, Position

_PURPOSE_CODE = {
    "entry": "en",
    "exit": "ex",
    "reversal": "rv",
    "rollover_close": "rc",
    "rollover_open": "ro",
}


def client_order_id(*, position_id: int, purpose: str, leg: str, attempt: int = 1) -> str:
    """Deterministic per (position, purpose, leg, attempt): a resend can never mint a new id."""
    return f"pm-{position_id}-{_PURPOSE_CODE[purpose]}-{leg}-{attempt}"


def intent_create(*, position: Position, purpose: str, leg: str, sequence: int, symbol: str, action: str,
                  reference_price: Decimal | None, signal=None, attempt: int = 1) -> OrderIntent:
    return OrderIntent.objects.create(
        client_order_id=client_order_id(position_id=position.pk, purpose=purpose, leg=leg, attempt=attempt),
        position=position, signal=signal, purpose=purpose, leg=leg, sequence=sequence, symbol=symbol,
        exchange=position.instrument.exchange, action=action, quantity=position.quantity,
        reference_price=reference_price,
    )


def intent_transition(intent: OrderIntent, *, source: Iterable[str], **fields) -> bool:
    """Apply ``fields`` to the intent only if it is still in one of ``source`` (row locked meanwhile);
    ``intent`` is refreshed either way.  True when this call made the change."""
    with transaction.atomic():
        status = OrderIntent.objects.select_for_update().values_list("status", flat=True).get(pk=intent.pk)
        changed = status in tuple(source)
        if changed:
            OrderIntent.objects.filter(pk=intent.pk).update(updated_at=timezone.now(), **fields)
    intent.refresh_from_db()
    return changed


def intents_cancel_pending(*, intents: Iterable[OrderIntent] = (), signal_id: int | None = None,
                           position_id: int | None = None, error: str) -> list[int]:
    """Cancel never-sent intents (the given ones, or a signal's, or a position's) so they can never
    go out; returns the ids cancelled.  Sent intents are left alone: only a broker lookup settles them."""
    with transaction.atomic():
        rows = OrderIntent.objects.select_for_update().filter(status=IntentStatus.PENDING)
        ids = [i.pk for i in intents]
        if ids:
            rows = rows.filter(pk__in=ids)
        elif signal_id is not None:
            rows = rows.filter(signal_id=signal_id)
        elif position_id is not None:
            rows = rows.filter(position_id=position_id)
        else:
            raise ValueError("say which intents to cancel")
        cancelled = list(rows.values_list("pk", flat=True))
        OrderIntent.objects.filter(pk__in=cancelled).update(status=IntentStatus.CANCELLED, error=error[:500],
                                                            updated_at=timezone.now())
    for intent in intents:
        intent.refresh_from_db()
    return cancelled
