"""No double booking, enforced by PostgreSQL itself: exclusion constraints over time ranges.

Only rows that still hold time (scheduled … in recovery) take part. A physician's deliberate,
reasoned overbooking is exempt from the physician rule only; rooms, recovery bays and patients never
overlap. On SQLite (the embedded default) the booking service's transaction does the same job:
SQLite runs one writer at a time (IMMEDIATE transactions), so check-then-insert cannot interleave.
"""

from django.db import migrations

ACTIVE = "status IN ('scheduled', 'confirmed', 'checked_in', 'in_procedure', 'in_recovery')"

CONSTRAINTS = {
    "appt_no_physician_overlap": f"""EXCLUDE USING gist (physician_id WITH =, tstzrange("start", "end", '[)') WITH &&)
        WHERE ({ACTIVE} AND NOT physician_overbooked)""",
    "appt_no_room_overlap": f"""EXCLUDE USING gist (room_id WITH =, tstzrange("start", room_until, '[)') WITH &&)
        WHERE ({ACTIVE})""",
    "appt_no_bay_overlap": f"""EXCLUDE USING gist (recovery_bay_id WITH =, tstzrange("end", monitoring_until, '[)') WITH &&)
        WHERE ({ACTIVE} AND recovery_bay_id IS NOT NULL)""",
    "appt_no_patient_overlap": f"""EXCLUDE USING gist (patient_id WITH =, tstzrange("start", monitoring_until, '[)') WITH &&)
        WHERE ({ACTIVE})""",
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, definition in CONSTRAINTS.items():
        schema_editor.execute(f"ALTER TABLE procedures_appointment ADD CONSTRAINT {name} {definition}")


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE procedures_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("procedures", "0003_feed_token_unique")]

    operations = [migrations.RunPython(add_constraints, drop_constraints)]
