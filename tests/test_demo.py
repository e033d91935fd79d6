import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from procedures.models import (
    Appointment,
    InstrumentScore,
    OutcomeSettings,
    PainScore,
    Patient,
    ProcedureType,
)
from procedures.roles import ROLE_PERMISSIONS, Role
from procedures.rules.catalogue import CATALOGUE

pytestmark = pytest.mark.django_db


def test_seed_demo_loads_once_and_again_adds_nothing():
    call_command("seed_demo")
    counts = (Patient.objects.count(), Appointment.objects.count(), ProcedureType.objects.count())
    assert counts[0] == 60 and counts[1] > 100 and counts[2] == len(CATALOGUE)
    call_command("seed_demo")
    assert (Patient.objects.count(), Appointment.objects.count(), ProcedureType.objects.count()) == counts


def test_the_demo_history_answers_pgic_once_and_a_clinic_can_turn_it_off():
    call_command("seed_demo")
    assert OutcomeSettings.objects.get().instruments == ["pgic"]
    answers = InstrumentScore.objects.filter(instrument="pgic", source="check_in")
    check_ins = PainScore.objects.filter(source="check_in")
    # One answer per answered history check-in, at its time.
    assert answers.count() == check_ins.count() > 0
    assert set(answers.values_list("appointment_id", "recorded_at")) == set(
        check_ins.values_list("appointment_id", "recorded_at")
    )
    OutcomeSettings.objects.update(collect_pgic=False)
    call_command("seed_demo")
    assert OutcomeSettings.objects.get().instruments == []
    assert InstrumentScore.objects.count() == check_ins.count()


def test_demo_logins_have_their_roles():
    call_command("seed_demo")
    User = get_user_model()
    for username, role in [
        ("frontdesk", Role.FRONT_DESK),
        ("nurse", Role.NURSE),
        ("physician", Role.PHYSICIAN),
        ("admin", Role.CLINIC_ADMIN),
    ]:
        user = User.objects.get(username=username)
        assert user.check_password("spinedesk")
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert User.objects.get(username="physician").physician_profile.display_name == "Dr Lee"


def test_seeding_keeps_a_clinic_admins_catalogue_edits():
    call_command("seed_demo")
    ProcedureType.objects.filter(name="Lumbar transforaminal ESI").update(procedure_minutes=45)
    call_command("seed_demo")
    assert ProcedureType.objects.get(name="Lumbar transforaminal ESI").procedure_minutes == 45


def test_catalogue_covers_the_reference_procedures():
    codes = {row["cpt_code"] for row in CATALOGUE}
    assert {
        "62321",
        "62323",
        "64479",
        "64483",
        "64490",
        "64493",
        "64633",
        "64635",
        "27096",
        "20552",
        "20553",
        "0232T",
    } <= codes


def test_every_role_group_has_exactly_its_permissions():
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        have = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        want = {name if "." in name else f"procedures.{name}" for name in codenames}
        assert have == want, role
