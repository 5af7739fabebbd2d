"""The ops audit trail: every manual intervention records who, when, what and why."""

from __future__ import annotations

from recovery.models import OpsAuditLog


def audit_record(
    *, actor: str, action: str, target_type: str = "", target_id: str = "", note: str = "", details: dict | None = None
) -> OpsAuditLog:
    return OpsAuditLog.objects.create(
        actor=actor or "unknown",
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        note=note,
        details=details or {},
    )
