"""seed_scale: a benchmark data set written by bulk SQL that still obeys every rule the booking service and
the database enforce; loading it again adds nothing, and a database with anyone else's data is refused."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from procedures.models import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    Appointment,
    AppointmentStatus,
    CheckInResponse,
    Discharge,
    FollowUp,
    Message,
    MessageStatus,
    PainScore,
    Patient,
    ProcedureRecord,
)
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SMALL = {"patients": 120, "physicians": 3, "years": 0.1}


def seed(**options) -> str:
    out = []

    class Out:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    call_command("seed_scale", stdout=Out(), **{**SMALL, **options})
    return "".join(out)


def overlaps(start: str, end: str, column: str, *, active_only: bool) -> int:
    """Pairs of appointments sharing `column` whose [start, end) ranges overlap."""
    active = "AND a.status = ANY(%(active)s) AND b.status = ANY(%(active)s)" if active_only else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT count(*) FROM procedures_appointment a JOIN procedures_appointment b
                ON a.{column} = b.{column} AND a.id < b.id
               AND a.{start} < b.{end} AND b.{start} < a.{end} {active}""",
            {"active": list(ACTIVE_STATUSES)},
        )
        return cursor.fetchone()[0]


def test_it_loads_a_consistent_clinic():
    seed()
    now = timezone.now()
    appointments = Appointment.objects.all()
    assert Patient.objects.count() == 120
    assert appointments.count() > 500
    assert not appointments.filter(start__lt=now).exclude(status__in=CLOSED_STATUSES).exists()
    assert not appointments.filter(start__gt=now).exclude(status__in=ACTIVE_STATUSES).exists()
    assert not appointments.filter(status=AppointmentStatus.CANCELLED, cancel_reason="").exists()
    discharged = appointments.filter(status=AppointmentStatus.DISCHARGED).count()
    assert ProcedureRecord.objects.count() == Discharge.objects.count() == discharged
    # Physician, room, recovery bay and patient: no overlap in the whole history, not only where the
    # exclusion constraints look (active bookings).
    assert overlaps("start", '"end"', "physician_id", active_only=False) == 0
    assert overlaps("start", "room_until", "room_id", active_only=False) == 0
    assert overlaps('"end"', "monitoring_until", "recovery_bay_id", active_only=False) == 0
    assert overlaps("start", "monitoring_until", "patient_id", active_only=False) == 0


def test_pain_scores_and_messages_belong_to_their_appointments():
    seed()
    now = timezone.now()
    assert PainScore.objects.count() > Appointment.objects.count()
    assert not PainScore.objects.exclude(patient_id=F("appointment__patient_id")).exists()
    assert not PainScore.objects.filter(recorded_at__gt=now).exists()
    relief = PainScore.objects.filter(source__in=["check_in", "diary"])
    assert relief.exists() and not relief.filter(percent_relief__isnull=True).exists()
    assert not Message.objects.exclude(patient_id=F("appointment__patient_id")).exists()
    assert Message.objects.filter(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]).exists()
    planned = Message.objects.filter(status=MessageStatus.PLANNED)
    assert planned.exists() and not planned.filter(due_at__lte=now).exists()
    answered = FollowUp.objects.filter(status="answered").count()
    assert answered == CheckInResponse.objects.count() > 0


def test_the_exclusion_constraints_still_guard_the_seeded_bookings():
    seed()
    booked = Appointment.objects.filter(status=AppointmentStatus.SCHEDULED).first()
    other_patient = Patient.objects.exclude(pk=booked.patient_id).first()
    twin = Appointment.objects.get(pk=booked.pk)
    twin.pk, twin.patient = None, other_patient
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_seeding_again_adds_nothing():
    seed()
    counts = (Patient.objects.count(), Appointment.objects.count(), PainScore.objects.count())
    assert "Already loaded" in seed()
    assert (Patient.objects.count(), Appointment.objects.count(), PainScore.objects.count()) == counts


def test_it_refuses_another_size_on_a_seeded_database():
    seed()
    with pytest.raises(CommandError, match="already holds a scale data set of 120 patients"):
        seed(patients=200)


def test_it_refuses_a_database_with_someone_elses_patients():
    factories.PatientFactory()
    with pytest.raises(CommandError, match="seed_scale did not write"):
        seed()
    assert Appointment.objects.count() == 0
