"""Staff API over the signal log: GET /api/signals/ and /api/signals/<id>/."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from signals.models import SignalLog, SignalStatus, SignalType
from signals.selectors import signal_list


class SignalOutputSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="signal_type")
    instrument = serializers.CharField(source="instrument_id")

    class Meta:
        model = SignalLog
        fields = ["id", "fingerprint", "type", "instrument", "position", "signal_timestamp", "received_at",
                  "processed_at", "processed_by", "status", "reason", "result", "duplicate_count", "payload"]


class SignalListApi(GenericAPIView):
    serializer_class = SignalOutputSerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=SignalStatus.choices, required=False)
        instrument = serializers.CharField(required=False)
        type = serializers.ChoiceField(choices=SignalType.choices, required=False)

    # Named: a list and a detail view of one model would both be "signals_retrieve" (drf-spectacular
    # W001, which `check --deploy` reports).
    @extend_schema(parameters=[FilterSerializer], operation_id="signals_list")
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        query = filters.validated_data
        qs = signal_list(status=query.get("status"), instrument=(query.get("instrument") or "").upper() or None,
                         signal_type=query.get("type"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SignalOutputSerializer(page, many=True).data)


class SignalDetailApi(GenericAPIView):
    serializer_class = SignalOutputSerializer

    @extend_schema(operation_id="signals_retrieve")
    def get(self, request, signal_id: int):
        return Response(SignalOutputSerializer(get_object_or_404(SignalLog, pk=signal_id)).data)
