"""DRF permission classes for money- and state-moving API actions (DESIGN §15.4): staff is not
enough, each action names its own Django permission."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, IsAdminUser


def staff_with(*permissions: str) -> list[type[BasePermission]]:
    """``permission_classes`` for a view: staff (401 / 403 as every /api/ endpoint) holding every
    one of ``permissions`` (else 403 naming them)."""

    class HasPermissions(BasePermission):
        message = f"this action needs the permission {', '.join(permissions)}"

        def has_permission(self, request, view) -> bool:
            return request.user.has_perms(permissions)

    return [IsAdminUser, HasPermissions]
