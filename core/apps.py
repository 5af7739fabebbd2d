from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The platform every app uses: Redis, locks, the leader lease, instances, metrics, alerts, audit."""

    name = "core"
    default_auto_field = "django.db.models.BigAutoField"
