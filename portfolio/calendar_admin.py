"""Back office of the market calendar: exchange sessions, holidays (with a CSV import form for staff
holding ``portfolio.import_holidays``) and special sessions.  Every save and delete goes through
portfolio.calendar_services, which audits it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from portfolio.calendar_services import (
    calendar_entry_delete,
    calendar_entry_save,
    exchanges_with_two_sessions,
    holidays_import,
)
from portfolio.holiday_csv import HolidayCsvError
from portfolio.models import ExchangeSession, Holiday, SpecialSession

IMPORT_PERMISSION = "portfolio.import_holidays"
MAX_UPLOAD_BYTES = 256 * 1024  # a year's list is a few kilobytes


class AuditedCalendarAdmin(admin.ModelAdmin):
    """Saves and deletes go through the audited calendar services."""

    def save_model(self, request, obj, form, change):
        calendar_entry_save(entry=obj, actor=request.user.get_username(), changed=list(form.changed_data))

    def delete_model(self, request, obj):
        calendar_entry_delete(entry=obj, actor=request.user.get_username())

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            calendar_entry_delete(entry=obj, actor=request.user.get_username())


@admin.register(ExchangeSession)
class ExchangeSessionAdmin(AuditedCalendarAdmin):
    list_display = ("exchange", "opens", "closes", "closes_us_dst", "evening_opens", "updated_at")
    readonly_fields = ("exchange", "updated_at")

    def has_add_permission(self, request):
        return False  # one row per exchange, seeded by a migration: edit it

    def has_delete_permission(self, request, obj=None):
        return False


class HolidayImportForm(forms.Form):
    file = forms.FileField(help_text="CSV: exchange,date,description[,closed] — closed is full, morning or evening")


class HolidayForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = ("exchange", "date", "description", "closed")

    def clean(self):
        cleaned = super().clean()
        exchange, closed = cleaned.get("exchange"), cleaned.get("closed")
        if exchange and closed and closed != "full" and exchange not in exchanges_with_two_sessions():
            self.add_error("closed", f"{exchange} has a single session: a holiday there closes the whole day")
        return cleaned


@admin.register(Holiday)
class HolidayAdmin(AuditedCalendarAdmin):
    form = HolidayForm
    list_display = ("date", "exchange", "closed", "description")
    list_filter = ("exchange", "closed")
    search_fields = ("description",)
    date_hierarchy = "date"
    change_list_template = "admin/portfolio/holiday/change_list.html"

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="portfolio_holiday_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), "can_import": request.user.has_perm(IMPORT_PERMISSION)}
        return super().changelist_view(request, extra)

    def import_view(self, request):
        if not request.user.has_perm(IMPORT_PERMISSION):
            raise PermissionDenied
        form = HolidayImportForm(request.POST or None, request.FILES or None)
        problems: list[tuple[int, str]] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            text = self._text(upload, form)
            if text is not None:
                try:
                    report = holidays_import(text=text, actor=request.user.get_username(), source=upload.name)
                except HolidayCsvError as exc:
                    problems = exc.errors
                    form.add_error("file", f"{len(problems)} problem(s): nothing was imported")
                else:
                    messages.success(request, f"Holidays imported from {upload.name}: {report.summary()}.")
                    return redirect(reverse("admin:portfolio_holiday_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "problems": problems,
                   "title": "Import holidays", "opts": self.model._meta}
        return TemplateResponse(request, "admin/portfolio/holiday/import.html", context)

    @staticmethod
    def _text(upload, form) -> str | None:
        if upload.size > MAX_UPLOAD_BYTES:
            form.add_error("file", f"the file is larger than {MAX_UPLOAD_BYTES // 1024} KB")
            return None
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.add_error("file", "the file is not UTF-8 text")
            return None


@admin.register(SpecialSession)
class SpecialSessionAdmin(AuditedCalendarAdmin):
    list_display = ("date", "exchange", "opens", "closes", "description")
    list_filter = ("exchange",)
    date_hierarchy = "date"
