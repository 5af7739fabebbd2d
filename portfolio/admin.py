"""Back office for instruments, the portfolio, the ledger and statistics (the market calendar is in
portfolio/calendar_admin.py).

Only services write money: ledger rows are read-only here, and capital flows go through a form
that calls ``capital_deposit`` / ``capital_withdraw``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import ReadOnlyAdmin, money_column, price_column
from core.formatting import format_money
from portfolio import calendar_admin  # noqa: F401  (registers sessions, holidays and the import form)
from portfolio.models import CapitalTransaction, Instrument, PortfolioState, TradingStatistics
from portfolio.services import PortfolioNotInitialised, capital_deposit, capital_withdraw, trading_pause, trading_resume


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "code", "exchange", "contract_kind", "point_value_money", "margin_money", "tick", "max_pyramids",
        "initial_stop_atr_multiple", "trailing_stop_atr_multiple", "mark", "mark_at", "is_active",
    )
    point_value_money = money_column("point_value", "₹ per point per lot")
    margin_money = money_column("margin_per_lot", "margin per lot")
    tick = price_column("tick_size", "tick", tick="tick_size")
    mark = price_column("mark_price", "mark price", tick="tick_size")
    list_filter = ("exchange", "contract_kind", "is_active")
    search_fields = ("code", "name", "symbol_root")
    readonly_fields = ("code", "mark_price", "mark_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "exchange", "contract_kind", "symbol_root", "is_active")}),
        ("Contract", {"fields": ("lot_size", "lot_unit", "point_value", "margin_per_lot", "order_quantity_per_lot",
                                 "strike_step", "tick_size")}),
        ("Sizing and stops", {"fields": ("risk_percent", "vol_percent", "use_vol_constraint",
                                         "initial_stop_atr_multiple", "trailing_stop_atr_multiple",
                                         "pyramid_spacing_atr", "max_pyramids")}),
        ("Order execution", {"fields": ("execution_style", "chase_seconds", "chase_attempts")}),
        ("Expiry and rollover", {"fields": ("expiry_rule", "contract_months", "entry_roll_trading_days",
                                            "rollover_days")}),
        ("Market", {"fields": ("mark_price", "mark_at", "updated_at")}),
    )

    def has_add_permission(self, request):
        return False  # instruments come from the seed migration; symbols and rules are code-dependent

    def has_delete_permission(self, request, obj=None):
        return False


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=200)


@admin.register(PortfolioState)
class PortfolioStateAdmin(admin.ModelAdmin):
    list_display = ("id", "closed", "high", "margin", "risk", "paused", "paused_reason", "updated_at")
    closed = money_column("closed_equity", "closed equity")
    high = money_column("equity_high", "equity high")
    margin = money_column("margin_used", "margin used")
    risk = money_column("total_risk_amount", "total risk")
    readonly_fields = (
        "initial_capital", "closed_equity", "equity_high", "total_risk_amount", "total_vol_amount", "margin_used",
        "unrealized_pnl", "paused", "paused_reason", "paused_at", "paused_by", "version", "created_at", "updated_at",
    )
    actions = ["resume_trading"]

    def has_add_permission(self, request):
        return False  # created once by `manage.py init_portfolio`

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("pause/", self.admin_site.admin_view(self.pause_view), name="portfolio_portfoliostate_pause"),
            *super().get_urls(),
        ]

    def pause_view(self, request):
        form = PauseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                trading_pause(reason=form.cleaned_data["reason"], actor=request.user.get_username())
            except (ValidationError, PortfolioNotInitialised) as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "Trading paused: new entries and pyramids are blocked; exits still run.")
                return redirect(reverse("admin:portfolio_portfoliostate_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "title": "Pause trading"}
        return TemplateResponse(request, "admin/portfolio/simple_form.html", context)

    @admin.action(description="Resume trading (allow new entries)", permissions=["change"])
    def resume_trading(self, request, queryset):
        trading_resume(actor=request.user.get_username())
        self.message_user(request, "Trading resumed.")


class CapitalFlowForm(forms.Form):
    KIND_CHOICES = (("DEPOSIT", "Deposit"), ("WITHDRAW", "Withdrawal"))
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0.01)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(CapitalTransaction)
class CapitalTransactionAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "kind", "amount_money", "before", "after", "position", "created_by")
    amount_money = money_column("amount", "amount", pnl=True)
    before = money_column("equity_before", "equity before")
    after = money_column("equity_after", "equity after")
    list_filter = ("kind",)
    search_fields = ("note", "created_by", "position__label")
    date_hierarchy = "created_at"
    list_select_related = ("position",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """'Add' records a deposit or withdrawal through the ledger service."""
        form = CapitalFlowForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            service = capital_deposit if form.cleaned_data["kind"] == "DEPOSIT" else capital_withdraw
            try:
                entry = service(
                    amount=form.cleaned_data["amount"], actor=request.user.get_username(),
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except PortfolioNotInitialised as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"{entry.get_kind_display()} of {format_money(abs(entry.amount))} recorded; "
                                          f"closed equity is now {format_money(entry.equity_after)}.")
                return redirect(reverse("admin:portfolio_capitaltransaction_changelist"))
        context = {**self.admin_site.each_context(request), "form": form,
                   "title": "Record a deposit or withdrawal", "opts": self.model._meta}
        return TemplateResponse(request, "admin/portfolio/simple_form.html", context)


@admin.register(TradingStatistics)
class TradingStatisticsAdmin(ReadOnlyAdmin):
    list_display = ("signals_received", "signals_executed", "signals_blocked", "signals_rejected", "signals_failed",
                    "trades_closed", "winning_trades", "losing_trades", "net_pnl", "max_dd", "aggregated_at")
    net_pnl = money_column("net_realized_pnl", "net realised P&L", pnl=True)
    max_dd = money_column("max_drawdown", "max drawdown")
