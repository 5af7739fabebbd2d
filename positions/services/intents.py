"""Every write of an ``OrderIntent``: the one owner of the outbox state machine (see the model's
docstring for the states).

A row is created (PENDING) before any broker call.  Each transition locks the row (``SELECT … FOR
UPDATE``) and applies only if the row is still in one of the expected source states, so two actors
(a slow worker and the sweeper, say) can never both send the same intent: ``PENDING → SENT``
succeeds once.  A broker order id can be claimed by one intent only (a unique constraint).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction
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
                  reference_price: Decimal | None, quantity: int | None = None, signal=None,
                  price_type: str = "MARKET", rollover=None) -> OrderIntent:
    """A new PENDING intent, the next attempt of (position, purpose, leg).  The caller holds the
    position's lock, so the attempt number (and with it the unique client order id) is its own;
    attempts booked to a part closed on its own still count (their ids keep this position's id)."""
    prefix = client_order_id(position_id=position.pk, purpose=purpose, leg=leg, attempt=0)[:-1]
    attempt = 1 + OrderIntent.objects.filter(client_order_id__startswith=prefix).count()
    return OrderIntent.objects.create(
        client_order_id=client_order_id(position_id=position.pk, purpose=purpose, leg=leg, attempt=attempt),
        position=position, signal=signal, rollover=rollover, purpose=purpose, leg=leg, sequence=sequence, symbol=symbol,
        exchange=position.instrument.exchange, action=action,
        quantity=position.quantity if quantity is None else quantity, price_type=price_type,
        reference_price=reference_price,
    )


def intent_transition(intent: OrderIntent, *, source: Iterable[str], **fields) -> bool:
    """Apply ``fields`` to the intent only if it is still in one of ``source``; ``intent`` is refreshed
    either way.  True when this call made the change.

    One conditional UPDATE: it takes the row lock (waiting for any other transaction holding it, e.g.
    the sweeper's all-intents-of-a-signal lock) and PostgreSQL re-checks the status on the row as
    committed before applying it, so exactly one of two racing transitions from a state succeeds."""
    changed = OrderIntent.objects.filter(pk=intent.pk, status__in=tuple(source)).update(
        updated_at=timezone.now(), **fields) == 1
    intent.refresh_from_db()
    return changed


def intent_claim_order(intent: OrderIntent, *, order_id: str, source: Iterable[str], **fields) -> bool:
    """Record that broker order ``order_id`` is this intent's (with ``fields``).  False when another
    intent already claimed it (one broker order, one intent) or this intent left ``source`` meanwhile."""
    try:
        with transaction.atomic():
            return intent_transition(intent, source=source, broker_order_id=order_id, **fields)
    except IntegrityError:
        intent.refresh_from_db()
        return False


def intent_resize(intent: OrderIntent, *, quantity: int) -> bool:
    """A second leg not yet sent takes the quantity its first leg actually filled."""
    return intent_transition(intent, source=(IntentStatus.PENDING,), quantity=quantity)


def intent_note_modification(intent: OrderIntent, *, change: dict) -> None:
    """Append one limit-chase modification (time, new price or type) to the intent's record."""
    with transaction.atomic():
        row = OrderIntent.objects.select_for_update().get(pk=intent.pk)
        OrderIntent.objects.filter(pk=intent.pk).update(
            modifications=[*row.modifications, {"at": timezone.now().isoformat(), **change}],
            updated_at=timezone.now())
    intent.refresh_from_db()


def intents_cancel_pending(*, intents: Iterable[OrderIntent] = (), position_id: int | None = None,
                           error: str) -> list[int]:
    """Cancel never-sent intents (the given ones, or a position's) so they can never go out; returns
    the ids cancelled.  Sent intents are left alone: only a broker lookup settles them."""
    intents = list(intents)
    with transaction.atomic():
        rows = OrderIntent.objects.select_for_update().filter(status=IntentStatus.PENDING)
        if intents:
            rows = rows.filter(pk__in=[i.pk for i in intents])
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


@transaction.atomic
def intents_cancel_unsent(*, signal_id: int, error: str) -> bool:
    """All or nothing for a signal handed back to the queue: with every intent of the signal locked,
    cancel the never-sent ones — unless one was sent (or is being sent: its row lock is ours only
    after that transition committed), in which case nothing changes and False is returned."""
    rows = list(OrderIntent.objects.select_for_update().filter(signal_id=signal_id).values_list("pk", "status"))
    if any(status not in (IntentStatus.PENDING, IntentStatus.CANCELLED) for _pk, status in rows):
        return False
    pending = [pk for pk, status in rows if status == IntentStatus.PENDING]
    OrderIntent.objects.filter(pk__in=pending).update(status=IntentStatus.CANCELLED, error=error[:500],
                                                      updated_at=timezone.now())
    return True


def intents_book_to(*, intent_ids: list[int], position: Position) -> None:
    """Fills booked with a part of a position closed on its own: the intents follow that part, so
    the position that remains sees only the orders it still has to settle."""
    OrderIntent.objects.filter(pk__in=intent_ids).update(position=position, updated_at=timezone.now())


def intent_settle_by_ops(intent: OrderIntent, *, broker_order_id: str | None, actor: str) -> None:
    """Ops settle an unresolved intent from the broker's evidence: it became broker order
    ``broker_order_id`` (confirmed by the next lookup), or — with None — it was never placed.
    ValueError when the order id belongs to another intent or the intent is no longer unresolved."""
    if broker_order_id:
        if not intent_claim_order(intent, order_id=broker_order_id, source=(IntentStatus.UNRESOLVED,),
                                  status=IntentStatus.ACCEPTED, accepted_at=timezone.now(),
                                  error=f"linked by {actor} to broker order {broker_order_id}"):
            raise ValueError(f"broker order {broker_order_id} is another intent's, or {intent.client_order_id} "
                             f"is no longer unresolved ({intent.status})")
        return
    if not intent_transition(intent, source=(IntentStatus.UNRESOLVED,), status=IntentStatus.CANCELLED,
                             error=f"not placed: declared by {actor} from the broker's order book"):
        raise ValueError(f"{intent.client_order_id} is no longer unresolved ({intent.status})")
