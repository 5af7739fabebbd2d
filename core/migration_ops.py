"""Operations shared by migrations that move models between apps."""

from __future__ import annotations

from django.db import migrations


def move_content_types(old_app: str, new_app: str, models: list[str]) -> migrations.RunPython:
    """Relabel the moved models' content types, so permissions granted on them (and admin history)
    follow the models to their new app instead of being orphaned."""

    def relabel(apps, source: str, target: str) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in models:
            old = content_type.objects.filter(app_label=source, model=model).first()
            if old is None:
                continue  # a fresh database: nothing was ever created under the old label
            if content_type.objects.filter(app_label=target, model=model).exists():
                old.delete()
            else:
                old.app_label = target
                old.save(update_fields=["app_label"])

    return migrations.RunPython(lambda apps, _editor: relabel(apps, old_app, new_app),
                                lambda apps, _editor: relabel(apps, new_app, old_app))
