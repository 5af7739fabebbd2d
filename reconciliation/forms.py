"""Forms of the discrepancy triage pages.  They check types and ranges; the services check the rest
and their ``ValidationError``s are shown on the same form (``apply_errors``)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

PRICE_FIELD = {"max_digits": 14, "decimal_places": 4, "min_value": Decimal("0.0001")}


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: under the field it names, else at the top."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class NoteForm(forms.Form):
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))

    def __init__(self, *args, note_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].required = note_required


class ClosePositionsForm(NoteForm):
    positions = forms.TypedMultipleChoiceField(coerce=int, widget=forms.CheckboxSelectMultiple,
                                               help_text="Our positions the broker no longer holds")
    price = forms.DecimalField(help_text="Exit price (Bank Nifty: the synthetic price, strike + CE − PE)",
                               **PRICE_FIELD)

    def __init__(self, *args, positions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["positions"].choices = [
            (p.pk, f"{p.label} #{p.pk}: {p.lots} lots, entry {p.entry_price}, {p.status}") for p in positions
        ]
        self.order_fields(["positions", "price", "note"])


class AdoptQuantityForm(NoteForm):
    """One "lots" field per position holding the symbol, set to what the broker holds."""

    def __init__(self, *args, positions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.position_fields = {}
        for p in positions:
            name = f"lots_{p.pk}"
            self.fields[name] = forms.IntegerField(min_value=1, initial=p.lots,
                                                   label=f"{p.label} #{p.pk} lots (now {p.lots})")
            self.position_fields[name] = p.pk
        self.order_fields([*self.position_fields, "note"])

    def lots(self) -> dict[int, int]:
        return {pid: self.cleaned_data[name] for name, pid in self.position_fields.items()}


class ImportPositionForm(NoteForm):
    layer = forms.TypedChoiceField(coerce=int, choices=[(n, f"Long_{n}" + (" (base)" if n == 1 else ""))
                                                        for n in range(1, 7)])
    initial_stop = forms.DecimalField(**PRICE_FIELD)
    atr = forms.DecimalField(label="ATR", **PRICE_FIELD)
    entry_price = forms.DecimalField(required=False, help_text="Futures only; empty = the broker's average price",
                                     **PRICE_FIELD)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["layer", "initial_stop", "atr", "entry_price", "note"])


class SettleOrderForm(NoteForm):
    """An unresolved order is either a broker order (its id, from the order book shown) or never placed."""

    broker_order_id = forms.CharField(required=False, max_length=64,
                                      help_text="The broker order this intent became (from the order book below)")
    not_placed = forms.BooleanField(required=False, label="Declare it was never placed",
                                    help_text="Only when the order book shows no order of ours for it")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["broker_order_id", "not_placed", "note"])

    def clean(self):
        data = super().clean()
        if bool((data.get("broker_order_id") or "").strip()) == bool(data.get("not_placed")):
            raise ValidationError("Give the broker order id, or declare the order never placed (one of the two).")
        return data
