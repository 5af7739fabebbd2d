"""Writers of the platform's tables: the instance registry (DESIGN §9) and the ops audit trail.

Every process registers, heartbeats with the database clock, and is marked ``crashed`` by the leader
after 30 s of silence.  Every manual intervention records who, when, what and why.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from core.instance import instance_id
from core.leader import fencing_verify
from core.locks import heartbeat_key
from core.models import InstanceMetadata, InstanceStatus, JobRun, OpsAuditLog
from core.redis_client import RedisUnavailable, call, redis_configured

VERSION = "1.0.0"
LIVE = (InstanceStatus.STARTING, InstanceStatus.ACTIVE, InstanceStatus.STOPPING)


def instance_register(*, role: str, port: int | None = None) -> InstanceMetadata:
    instance, _ = InstanceMetadata.objects.update_or_create(
        instance_id=instance_id(),
        defaults=dict(role=role, hostname=socket.gethostname(), pid=os.getpid(), port=port, version=VERSION,
                      status=InstanceStatus.ACTIVE, started_at=Now(), last_heartbeat=Now(), stopped_at=None),
    )
    instance_heartbeat()
    return instance


def instance_heartbeat() -> None:
    """Database ``now()`` for the time (one clock for everyone); Redis key with a TTL for fast checks.
    A process that heartbeats is alive, so a ``crashed`` mark from a long pause is undone."""
    InstanceMetadata.objects.filter(instance_id=instance_id()).exclude(status=InstanceStatus.STOPPED).update(
        last_heartbeat=Now(), status=InstanceStatus.ACTIVE
    )
    if redis_configured():
        ttl = settings.PM_INSTANCE_DEAD_SECONDS
        try:
            call(lambda r: r.set(heartbeat_key(instance_id()), "1", ex=ttl))
        except RedisUnavailable:
            pass


def instance_mark(*, status: str) -> None:
    fields = {"status": status, "last_heartbeat": Now()}
    if status == InstanceStatus.STOPPED:
        fields["stopped_at"] = Now()
    InstanceMetadata.objects.filter(instance_id=instance_id()).update(**fields)
    if status == InstanceStatus.STOPPED and redis_configured():
        try:
            call(lambda r: r.delete(heartbeat_key(instance_id())))
        except RedisUnavailable:
            pass


def instances_reap(*, dead_after: int | None = None) -> list[str]:
    """Mark instances silent for ``dead_after`` seconds (database clock) as crashed."""
    seconds = dead_after or settings.PM_INSTANCE_DEAD_SECONDS
    silent = InstanceMetadata.objects.filter(
        status__in=LIVE, last_heartbeat__lt=Now() - timedelta(seconds=seconds)
    )
    ids = list(silent.values_list("instance_id", flat=True))
    if ids:
        InstanceMetadata.objects.filter(instance_id__in=ids, status__in=LIVE).update(status=InstanceStatus.CRASHED)
    return ids


def audit_record(
    *, actor: str, action: str, target_type: str = "", target_id: str = "", note: str = "", details: dict | None = None,
    before: dict | None = None, after: dict | None = None,
) -> OpsAuditLog:
    """One audit row.  ``before`` / ``after`` hold the target's changed fields; values that JSON cannot
    hold as they are (Decimal, dates) are stored as their text, exactly."""
    return OpsAuditLog.objects.create(
        actor=actor or "unknown",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        note=note,
        details=_json_safe(details or {}),
        before=_json_safe(before or {}),
        after=_json_safe(after or {}),
    )


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def job_period_claim(*, job: str, period: str, epoch: int | None, fenced: bool,
                     body: Callable[[], object] | None = None) -> JobRun | None:
    """Record this delivery of a job's period, or count it as a duplicate (None).

    Runs in one transaction with the fencing check, so a deposed leader's run is refused (StaleLeader)
    and a second delivery of the period is skipped.  ``body``, for jobs whose writes fit in one
    transaction, runs inside it, covered by the same fencing check.
    """
    with transaction.atomic():
        if fenced:
            fencing_verify(epoch=epoch)
        run, created = JobRun.objects.get_or_create(
            job=job, period=period, defaults={"epoch": epoch or 0, "instance_id": instance_id()}
        )
        if not created:
            JobRun.objects.filter(pk=run.pk).update(duplicates=F("duplicates") + 1)
            return None
        if body is not None:
            JobRun.objects.filter(pk=run.pk).update(finished_at=Now(), result=_jsonable(body()))
        return run


def job_period_finish(*, run_id: int, result: object) -> None:
    JobRun.objects.filter(pk=run_id).update(finished_at=Now(), result=_jsonable(result))


def _jsonable(result: object) -> dict:
    try:
        json.dumps(result)
    except TypeError:
        return {"result": str(result)}
    return result if isinstance(result, dict) else {"result": result}
