from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from portfolio.api import CapitalDepositApi, CapitalWithdrawApi
from positions.api import PositionListApi
from reconciliation.api import ReconcileApi
from recovery.api import PortfolioApi, TradingPauseApi, TradingResumeApi
from recovery.views import health, metrics_view, ready
from signals.api import SignalDetailApi, SignalListApi
from signals.webhook import WebhookApi

urlpatterns = [
    path("webhook", WebhookApi.as_view(), name="webhook"),
    path("webhook/", WebhookApi.as_view()),
    # The URL-token form for TradingView (DESIGN §15.4).  Whatever follows webhook/ is the token, so
    # no path under it ever reaches a 404 page that would echo it back.
    re_path(r"^webhook/(?P<token>.+?)/?$", WebhookApi.as_view(), name="webhook-token"),
    path("api/signals/", SignalListApi.as_view(), name="signal-list"),
    path("api/signals/<int:signal_id>/", SignalDetailApi.as_view(), name="signal-detail"),
    path("api/positions/", PositionListApi.as_view(), name="position-list"),
    path("api/portfolio/", PortfolioApi.as_view(), name="portfolio"),
    path("api/trading/pause", TradingPauseApi.as_view(), name="trading-pause"),
    path("api/trading/resume", TradingResumeApi.as_view(), name="trading-resume"),
    path("api/capital/deposit", CapitalDepositApi.as_view(), name="capital-deposit"),
    path("api/capital/withdraw", CapitalWithdrawApi.as_view(), name="capital-withdraw"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/reconcile/", ReconcileApi.as_view(), name="reconcile"),
    path("health", health, name="health"),
    path("ready", ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/cockpit/", include("cockpit.urls")),
    path("admin/", admin.site.urls),
]
