"""Seed the clinic's safety protocol from the published reference (missing rows only)."""

from django.db import migrations


def seed(apps, schema_editor):
    from procedures.services.protocol import protocol_seed

    protocol_seed(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("procedures", "0005_safety")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
