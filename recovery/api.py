"""The ops API: GET /api/portfolio/, POST /api/trading/pause and /api/trading/resume.

The portfolio body reports open discrepancies and exposure derived from positions, so these views
sit here, above reconciliation; the writes are the portfolio services'.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_permissions import staff_with
from portfolio.models import TradingStatistics
from portfolio.services import PortfolioNotInitialised, trading_pause, trading_resume
from recovery.selectors import portfolio_summary

MONEY = {"max_digits": 18, "decimal_places": 2}


class StatisticsSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradingStatistics
        exclude = ["id"]


class PortfolioOutputSerializer(serializers.Serializer):
    closed_equity = serializers.DecimalField(**MONEY)
    equity_high = serializers.DecimalField(**MONEY)
    blended_equity = serializers.DecimalField(**MONEY)
    unrealized_pnl = serializers.DecimalField(**MONEY)
    total_risk_amount = serializers.DecimalField(**MONEY)
    total_risk_percent = serializers.DecimalField(max_digits=9, decimal_places=3)
    total_vol_amount = serializers.DecimalField(**MONEY)
    total_vol_percent = serializers.DecimalField(max_digits=9, decimal_places=3)
    margin_used = serializers.DecimalField(**MONEY)
    margin_free = serializers.DecimalField(**MONEY)
    paused = serializers.BooleanField()
    paused_reason = serializers.CharField()
    open_discrepancies = serializers.IntegerField()
    statistics = StatisticsSerializer()


def _summary() -> dict:
    try:
        return PortfolioOutputSerializer(portfolio_summary()).data
    except PortfolioNotInitialised as exc:
        raise NotFound(str(exc)) from None


class PortfolioApi(APIView):
    serializer_class = PortfolioOutputSerializer

    def get(self, request):
        return Response(_summary())


class TradingPauseApi(APIView):
    permission_classes = staff_with("portfolio.pause_trading")

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    serializer_class = PortfolioOutputSerializer

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user.get_username()
        reason = data.validated_data.get("reason") or f"Paused via API by {user}"
        try:
            trading_pause(reason=reason, actor=user)
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        return Response(_summary(), status=status.HTTP_200_OK)


class TradingResumeApi(APIView):
    permission_classes = staff_with("portfolio.resume_trading")
    serializer_class = PortfolioOutputSerializer

    def post(self, request):
        trading_resume(actor=request.user.get_username())
        return Response(_summary())
