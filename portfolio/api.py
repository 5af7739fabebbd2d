"""Staff API: GET /api/portfolio/, POST /api/trading/pause and /api/trading/resume."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolio.models import PortfolioState, TradingStatistics
from portfolio.selectors import portfolio_exposure
from portfolio.services import trading_pause, trading_resume
from reconciliation.selectors import open_discrepancy_count

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


def _percent(amount: Decimal, of: Decimal) -> Decimal:
    return (amount * 100 / of).quantize(Decimal("0.001")) if of > 0 else Decimal("0")


def portfolio_summary() -> dict:
    state = PortfolioState.objects.filter(pk=PortfolioState.SINGLETON_ID).first()
    if state is None:
        raise NotFound("Portfolio not initialised: run `manage.py init_portfolio --capital N`.")
    exposure = portfolio_exposure()
    blended = exposure.blended(state)
    statistics, _ = TradingStatistics.objects.get_or_create(pk=1)
    cent = Decimal("0.01")
    return {
        "closed_equity": state.closed_equity, "equity_high": state.equity_high,
        "blended_equity": blended.quantize(cent), "unrealized_pnl": exposure.unrealized_pnl.quantize(cent),
        "total_risk_amount": exposure.risk.quantize(cent), "total_risk_percent": _percent(exposure.risk, blended),
        "total_vol_amount": exposure.vol.quantize(cent), "total_vol_percent": _percent(exposure.vol, blended),
        "margin_used": exposure.margin_used.quantize(cent), "margin_free": exposure.margin_free(state).quantize(cent),
        "paused": state.paused, "paused_reason": state.paused_reason,
        "open_discrepancies": open_discrepancy_count(), "statistics": statistics,
    }


class PortfolioApi(APIView):
    serializer_class = PortfolioOutputSerializer

    def get(self, request):
        return Response(PortfolioOutputSerializer(portfolio_summary()).data)


class TradingPauseApi(APIView):
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
        return Response(PortfolioOutputSerializer(portfolio_summary()).data, status=status.HTTP_200_OK)


class TradingResumeApi(APIView):
    serializer_class = PortfolioOutputSerializer

    def post(self, request):
        trading_resume(actor=request.user.get_username())
        return Response(PortfolioOutputSerializer(portfolio_summary()).data)
