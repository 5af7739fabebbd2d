"""Staff API: GET /api/positions/ (?status=&instrument=)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from positions.models import Position, PositionStatus, Rollover


class PositionOutputSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument_id")
    symbols = serializers.ListField(child=serializers.CharField(), read_only=True)
    exit_pending = serializers.BooleanField(read_only=True, help_text="Closing, the last exit attempt failed: "
                                                                      "another is due at retry_at")
    retry_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True, help_text="Why the last order attempt failed")
    rollover = serializers.SerializerMethodField(help_text="The latest rollover: phase, contracts, P&L, next attempt")

    def get_rollover(self, obj) -> dict | None:
        latest = next(iter(obj.rollovers.all()), None)  # prefetched newest first
        if latest is None:
            return None
        return {"id": latest.pk, "number": latest.number, "phase": latest.phase, "old": latest.old_symbols,
                "new": latest.new_symbols, "pnl": None if latest.pnl is None else str(latest.pnl),
                "retry_at": latest.retry_at, "last_error": latest.last_error, "needs_ops": latest.flagged_at is not None}

    class Meta:
        model = Position
        fields = ["id", "label", "instrument", "layer", "status", "lots", "quantity", "entry_price", "initial_stop",
                  "current_stop", "highest_close", "entry_atr", "exit_price", "exit_reason", "realized_pnl",
                  "unrealized_pnl", "opened_at", "closed_at", "expiry", "symbols", "rollover_status",
                  "rollover_count", "rollover_pnl", "original_expiry", "rollover", "exit_pending", "retry_at",
                  "last_error"]


class PositionListApi(GenericAPIView):
    serializer_class = PositionOutputSerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=PositionStatus.choices, required=False)
        instrument = serializers.CharField(required=False)

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        qs = Position.objects.order_by("-id").prefetch_related(
            Prefetch("rollovers", queryset=Rollover.objects.order_by("-number")))
        if status := filters.validated_data.get("status"):
            qs = qs.filter(status=status)
        if instrument := filters.validated_data.get("instrument"):
            qs = qs.filter(instrument_id=instrument.upper())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(PositionOutputSerializer(page, many=True).data)
