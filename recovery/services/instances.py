"""The instance registry (DESIGN §9): every web, worker and beat process registers, heartbeats with
the database clock, and is marked ``crashed`` by the leader after 30 s of silence."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Now

from recovery.instance import instance_id
from recovery.locks import heartbeat_key
from recovery.models import InstanceMetadata, InstanceStatus
from recovery.redis_client import RedisUnavailable, call, redis_configured

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
