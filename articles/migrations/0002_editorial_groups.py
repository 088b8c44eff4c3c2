"""Creates the two editorial groups with their model permissions.

Permissions are normally created after migrations; they are created here first so a fresh database has
working groups as soon as `migrate` returns.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_PERMISSIONS = {
    "Writers": [
        "add_article", "change_article", "view_article",
        "add_articlevariant", "change_articlevariant", "view_articlevariant",
        "add_articlereference", "delete_articlereference", "view_articlereference",
        "add_reference", "change_reference", "view_reference",
    ],
    "Advisory Board": [
        "view_article", "review_article", "view_articlevariant", "view_articlereference",
        "add_reference", "change_reference", "view_reference",
    ],
}  # fmt: skip


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="articles", codename__in=codenames)
        )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
