"""Staff API: POST /api/reconcile/ runs a broker reconciliation now and returns its report."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_permissions import staff_with
from reconciliation.models import ReconciliationOutcome
from reconciliation.services.reconcile import reconciliation_run_now


class InFlightSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    exchange = serializers.CharField()
    instrument = serializers.CharField(allow_null=True)
    expected = serializers.IntegerField()
    broker = serializers.IntegerField()
    position_ids = serializers.ListField(child=serializers.IntegerField())


class ReconciliationItemSerializer(InFlightSerializer):
    kind = serializers.ChoiceField(choices=["matched", "orphaned", "missing", "mismatch"])


class OtherSymbolSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    exchange = serializers.CharField()
    broker = serializers.IntegerField()


class ReconciliationReportSerializer(serializers.Serializer):
    """Documents the report (DESIGN Appendix A); the service's dict is returned as is."""

    run_id = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField()
    outcome = serializers.ChoiceField(choices=ReconciliationOutcome.values)
    items = ReconciliationItemSerializer(many=True, help_text="Every symbol compared, matched ones included")
    other_symbols = OtherSymbolSerializer(many=True, help_text="Broker rows of contracts we do not trade")
    in_flight = InFlightSerializer(many=True, help_text="Symbols with orders or bookings in flight, not compared")
    error = serializers.CharField(required=False, help_text="Only when the broker could not be read")


class ReconcileApi(APIView):
    permission_classes = staff_with("reconciliation.run_reconciliation")
    serializer_class = ReconciliationReportSerializer

    @extend_schema(request=None, responses={200: ReconciliationReportSerializer, 503: ReconciliationReportSerializer})
    def post(self, request):
        report = reconciliation_run_now(actor=request.user.get_username())
        unavailable = report["outcome"] == ReconciliationOutcome.BROKER_UNAVAILABLE
        return Response(report, status=status.HTTP_503_SERVICE_UNAVAILABLE if unavailable else status.HTTP_200_OK)
