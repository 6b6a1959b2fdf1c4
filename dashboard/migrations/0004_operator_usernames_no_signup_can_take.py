"""Operator accounts were named after their address in lower case, a name the public sign-up also
accepts; they are now "operator:<checksummed address>", which it refuses. Existing ones are renamed
unless another account already has the new name (then they keep the old one, which still works)."""

from django.db import migrations


def rename_operators(apps, schema_editor):
    Operator = apps.get_model("dashboard", "Operator")
    User = apps.get_model("auth", "User")
    for operator in Operator.objects.select_related("user"):
        wanted = f"operator:{operator.address}"
        if operator.user.username != wanted and not User.objects.filter(username=wanted).exists():
            User.objects.filter(pk=operator.user_id).update(username=wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_node_snapshot"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(rename_operators, migrations.RunPython.noop)]
