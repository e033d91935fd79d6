"""Message.appointment loses its own index: message_once_per_plan_point and message_appt_due_idx both start
with appointment_id, and each index is one more write for every message the sweep sends.

Only the index is dropped. Django's AlterField would also drop and re-add the foreign key, which re-checks
every message row while holding a lock that stops the sweep, so the database side is written out here. The
name is the one Django gave the index when it created it (the same on PostgreSQL and SQLite)."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "procedures_message_appointment_id_324e8c35"


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0016_call_list_urgent_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="message",
                    name="appointment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="procedures.appointment",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "procedures_message" ("appointment_id")',
                ),
            ],
        ),
    ]
