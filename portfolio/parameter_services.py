"""Admin edits of rule parameters: an instrument's, and the portfolio-wide limits (DESIGN §15.4).

Each edit is validated by the model (``clean``: the rules of the pure parameter objects), written
under the row's lock with only the edited fields (so a mark price or an equity change written
meanwhile by the executor is not overwritten by the form's stale copy), and audited with the
values before and after.
"""

from __future__ import annotations

from django.db import transaction

from core.services import audit_record
from portfolio.models import Instrument
from portfolio.services import _state_save, locked_state


def _changed(row, values: dict) -> dict:
    """The fields ``values`` really changes, with their values before."""
    return {name: getattr(row, name) for name, value in values.items() if getattr(row, name) != value}


def _stored(row, names) -> dict:
    """The values as the database keeps them (decimal places of the column), for the audit row."""
    row.refresh_from_db(fields=list(names))
    return {name: getattr(row, name) for name in names}


@transaction.atomic
def instrument_parameters_update(*, code: str, values: dict, actor: str, note: str = "") -> Instrument:
    """Set ``values`` (editable fields of the instrument) as one validated, audited change."""
    instrument = Instrument.objects.select_for_update().get(pk=code)
    before = _changed(instrument, values)
    for name, value in values.items():
        setattr(instrument, name, value)
    instrument.full_clean()
    instrument.save(update_fields=[*values, "updated_at"])
    audit_record(actor=actor, action="instrument_edited", target_type="instrument", target_id=code, note=note,
                 before=before, after=_stored(instrument, before))
    return instrument


@transaction.atomic
def portfolio_limits_update(*, values: dict, actor: str, note: str = ""):
    """Set portfolio-wide limits (``PortfolioState.LIMIT_FIELDS``) as one validated, audited change."""
    state = locked_state()
    unknown = set(values) - set(state.LIMIT_FIELDS)
    if unknown:
        raise ValueError(f"not portfolio limits: {sorted(unknown)}")
    before = _changed(state, values)
    for name, value in values.items():
        setattr(state, name, value)
    state.full_clean()
    _state_save(state, *values)
    audit_record(actor=actor, action="portfolio_limits_edited", target_type="portfolio", target_id=state.pk,
                 note=note, before=before, after=_stored(state, before))
    return state
