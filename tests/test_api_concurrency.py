"""No double booking, ever, through the real HTTP stack: the live server handles each request on its own
thread with its own PostgreSQL connection, and client threads held at a barrier send their POSTs at the
same instant. Exactly one booking wins; every other caller gets 409 saying what was taken."""

from datetime import time

import pytest
from rest_framework.authtoken.models import Token

from procedures.models import Appointment, WorkingHours
from tests.factories import PatientFactory, PhysicianFactory, RoomFactory
from tests.helpers import post_together
from tests.scheduling_fixtures import at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SIZES = [2, 10]


def assert_exactly_one_booked(results, *, detail_contains: str) -> None:
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (len(results) - 1), results
    for status, body in results:
        if status == 409:
            assert detail_contains in body["detail"], body
    assert Appointment.objects.count() == 1


def body(clinic, *, patient, physician, room=None) -> dict:
    data = {
        "patient": patient.pk,
        "procedure_type": clinic["tfesi"].pk,
        "physician": physician.pk,
        "start": at(clinic["monday"], 9).isoformat(),
    }
    if room is not None:
        data["room"] = room.pk
    return data


def more_patients(clinic, n: int) -> list:
    return [*clinic["patients"], *(PatientFactory() for _ in range(max(0, n - len(clinic["patients"]))))][:n]


def more_physicians(clinic, n: int) -> list:
    physicians = [clinic["lee"], clinic["patel"]]
    while len(physicians) < n:
        extra = PhysicianFactory()
        WorkingHours.objects.create(physician=extra, weekday=0, start_time=time(8), end_time=time(12))
        physicians.append(extra)
    return physicians[:n]


def more_rooms(clinic, n: int) -> list:
    rooms = [clinic["fluoro1"], clinic["fluoro2"]]
    while len(rooms) < n:
        rooms.append(RoomFactory(has_fluoroscopy=True))
    return rooms[:n]


@pytest.fixture
def token(frontdesk) -> str:
    return Token.objects.create(user=frontdesk).key


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_posts_for_the_same_physician_and_time_book_exactly_one(live_server, clinic, token, n):
    bodies = [body(clinic, patient=p, physician=clinic["lee"]) for p in more_patients(clinic, n)]
    results = post_together(live_server, token, "/api/v1/appointments/", bodies)
    assert_exactly_one_booked(results, detail_contains="Dr Lee is already booked")


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_posts_for_the_same_patient_with_different_physicians_book_exactly_one(
    live_server, clinic, token, n
):
    patient = clinic["patients"][0]
    bodies = [body(clinic, patient=patient, physician=doctor) for doctor in more_physicians(clinic, n)]
    results = post_together(live_server, token, "/api/v1/appointments/", bodies)
    assert_exactly_one_booked(results, detail_contains=f"{patient.full_name} already has an appointment")


@pytest.mark.parametrize("n", SIZES)
def test_concurrent_posts_for_the_last_recovery_bay_book_exactly_one(live_server, clinic, token, n):
    """Different physicians, patients and rooms: the one recovery bay left is all they share."""
    clinic["bays"][1].active = False
    clinic["bays"][1].save()
    bodies = [
        body(clinic, patient=patient, physician=doctor, room=room)
        for patient, doctor, room in zip(
            more_patients(clinic, n), more_physicians(clinic, n), more_rooms(clinic, n), strict=True
        )
    ]
    results = post_together(live_server, token, "/api/v1/appointments/", bodies)
    assert_exactly_one_booked(results, detail_contains="Every recovery bay is taken")
