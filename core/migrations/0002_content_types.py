from django.db import migrations

from core.migration_ops import move_content_types


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        move_content_types("recovery", "core", ["instancemetadata", "jobrun", "leaderlease", "opsauditlog"]),
    ]
