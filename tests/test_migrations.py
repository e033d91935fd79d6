"""Migrations carry existing rows forward: a clinic running the first release upgrades without losing or
breaking anything."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

FIRST = [("procedures", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_upgrading_from_the_first_release_keeps_patients_and_gives_every_physician_a_feed_token():
    old = _migrate(FIRST)
    User = old.get_model("auth", "User")
    Physician = old.get_model("procedures", "PhysicianProfile")
    Patient = old.get_model("procedures", "Patient")
    for i in range(3):
        Physician.objects.create(user=User.objects.create(username=f"dr{i}"), display_name=f"Dr {i}")
    Patient.objects.create(
        mrn="OLD1", first_name="Ann", last_name="Old", date_of_birth="1950-01-01", time_zone="UTC"
    )

    latest = _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    tokens = list(
        latest.get_model("procedures", "PhysicianProfile").objects.values_list(
            "calendar_feed_token", flat=True
        )
    )
    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(tokens)
    patient = latest.get_model("procedures", "Patient").objects.get(mrn="OLD1")
    assert (patient.first_name, patient.pain_started_on) == ("Ann", None)
    # the protocol arrived with the upgrade
    assert latest.get_model("procedures", "HoldRule").objects.count() > 100


@pytest.mark.django_db
def test_messages_keep_their_appointment_key_without_an_index_of_its_own():
    """0017 drops only the index: the foreign key stays, and the two indexes that start with the column
    still serve lookups by appointment."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "procedures_message")
    on_appointment = {
        name: c for name, c in constraints.items() if c["columns"] and c["columns"][0] == "appointment_id"
    }
    assert any(c["foreign_key"] for c in on_appointment.values())
    assert sorted(name for name, c in on_appointment.items() if c["index"] or c["unique"]) == [
        "message_appt_due_idx",
        "message_once_per_plan_point",
    ]
