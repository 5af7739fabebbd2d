from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """Broker reconciliation, the discrepancy list and its triage; an open discrepancy halts entries."""

    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"
