"""Back office for instruments, the portfolio, the ledger and statistics (the market calendar is in
portfolio/calendar_admin.py).

Only services write money: ledger rows are read-only here, and capital flows go through a form
that calls ``capital_flow_record``.  Every money- or state-moving action needs its own permission
(not just staff) and is audited (DESIGN §15.4); a deposit or withdrawal form carries a one-time
token, so submitting it twice books once.  Parameter edits are validated by the model, written
under the row's lock and audited (portfolio.parameter_services).
"""

from __future__ import annotations

import re
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import PermissionedActionsMixin, ReadOnlyAdmin, money_column, price_column, require_permission
from core.formatting import format_money
from portfolio import calendar_admin  # noqa: F401  (registers sessions, holidays and the import form)
from portfolio.models import CapitalTransaction, Instrument, PortfolioState, TradingStatistics, TransactionKind
from portfolio.parameter_services import instrument_parameters_update, portfolio_limits_update
from portfolio.services import (
    IdempotencyConflict,
    PortfolioNotInitialised,
    capital_flow_record,
    trading_pause,
    trading_resume,
)


class AuditedEditForm(forms.ModelForm):
    change_note = forms.CharField(required=False, max_length=500, label="Why (for the audit log)",
                                  widget=forms.TextInput(attrs={"size": 60}))


class AuditedEditAdmin(admin.ModelAdmin):
    """Edits are saved by ``save_service`` (validated again under the row lock, audited), with only
    the fields this form edits: the values the executor writes meanwhile are kept."""

    form = AuditedEditForm

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied("these rows are not created in the admin")
        values = {name: getattr(obj, name) for name in form.fields if name != "change_note"}
        self.save_service(obj, values=values, actor=request.user.get_username(),
                          note=form.cleaned_data.get("change_note", ""))
        obj.refresh_from_db()


@admin.register(Instrument)
class InstrumentAdmin(AuditedEditAdmin):
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
        ("Audit", {"fields": ("change_note",)}),
    )

    def save_service(self, obj, **kwargs):
        return instrument_parameters_update(code=obj.pk, **kwargs)

    def has_add_permission(self, request):
        return False  # instruments come from the seed migration; symbols and rules are code-dependent

    def has_delete_permission(self, request, obj=None):
        return False


class PauseForm(forms.Form):
    reason = forms.CharField(max_length=200)


@admin.register(PortfolioState)
class PortfolioStateAdmin(PermissionedActionsMixin, AuditedEditAdmin):
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

    def has_resume_trading_permission(self, request):
        return request.user.has_perm("portfolio.resume_trading")

    def save_service(self, obj, **kwargs):
        return portfolio_limits_update(**kwargs)

    def get_urls(self):
        return [
            path("pause/", self.admin_site.admin_view(self.pause_view), name="portfolio_portfoliostate_pause"),
            *super().get_urls(),
        ]

    def pause_view(self, request):
        require_permission(request, "portfolio.pause_trading")
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

    @admin.action(description="Resume trading (allow new entries)", permissions=["resume_trading"])
    def resume_trading(self, request, queryset):
        require_permission(request, "portfolio.resume_trading")
        trading_resume(actor=request.user.get_username())
        self.message_user(request, "Trading resumed.")


FLOW_PERMISSIONS = {TransactionKind.DEPOSIT: "portfolio.deposit_capital",
                    TransactionKind.WITHDRAW: "portfolio.withdraw_capital"}
TOKEN_RE = re.compile(r"[0-9a-f]{32}")


class CapitalFlowForm(forms.Form):
    KIND_CHOICES = ((TransactionKind.DEPOSIT, "Deposit"), (TransactionKind.WITHDRAW, "Withdrawal"))
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    amount = forms.DecimalField(max_digits=18, decimal_places=2, min_value=0.01)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # One-time token, new with each blank form: the idempotency key of this submit.
    token = forms.CharField(widget=forms.HiddenInput, error_messages={
        "required": "This form has no submit token; open it again (nothing was booked)."})

    def clean_token(self):
        token = self.cleaned_data["token"]
        if not TOKEN_RE.fullmatch(token):
            raise ValidationError("The submit token is malformed; open the form again (nothing was booked).")
        return token


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

    def has_add_permission(self, request):
        return any(request.user.has_perm(p) for p in FLOW_PERMISSIONS.values())

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """'Add' records a deposit or withdrawal through the ledger service, each kind under its own
        permission; the form's token makes a double submit (or a browser resend) book once."""
        if not self.has_add_permission(request):
            raise PermissionDenied("recording capital flows needs deposit_capital or withdraw_capital")
        if request.method == "POST" and request.POST.get("kind") in FLOW_PERMISSIONS:
            require_permission(request, FLOW_PERMISSIONS[request.POST["kind"]])
        form = CapitalFlowForm(request.POST or None, initial={"token": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                entry, booked = capital_flow_record(
                    kind=form.cleaned_data["kind"], amount=form.cleaned_data["amount"],
                    actor=request.user.get_username(), note=form.cleaned_data["note"],
                    idempotency_key=f"admin-form:{form.cleaned_data['token']}",
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except (PortfolioNotInitialised, IdempotencyConflict) as exc:
                form.add_error(None, str(exc))
            else:
                text = (f"{entry.get_kind_display()} of {format_money(abs(entry.amount))} recorded; closed equity is "
                        f"now {format_money(entry.equity_after)}.")
                if booked:
                    messages.success(request, text)
                else:
                    messages.warning(request, f"This form was already submitted: booked once (#{entry.pk}), not "
                                              f"again. {text}")
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
