"""A small clinic for scheduling tests: weekday hours 08:00–12:00, two fluoroscopy rooms, one ultrasound
room, two recovery bays, and a Monday far enough ahead to book."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from procedures.models import Appointment, WorkingHours
from procedures.services.booking import BookingRequest, appointment_book
from tests.factories import (
    PatientFactory,
    PhysicianFactory,
    ProcedureTypeFactory,
    RecoveryBayFactory,
    RoomFactory,
)


def next_monday(after: date | None = None) -> date:
    base = after or timezone.localdate()
    return base + timedelta(days=(7 - base.weekday()) or 7)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=timezone.get_default_timezone())


@pytest.fixture
def clinic(db, cast):
    lee = cast["physician"].physician_profile
    patel = PhysicianFactory(display_name="Dr Patel")
    for physician in (lee, patel):
        for weekday in range(5):
            WorkingHours.objects.create(
                physician=physician, weekday=weekday, start_time=time(8), end_time=time(12)
            )
    return {
        "lee": lee,
        "patel": patel,
        "fluoro1": RoomFactory(name="Fluoro 1", has_fluoroscopy=True, turnover_minutes=10),
        "fluoro2": RoomFactory(name="Fluoro 2", has_fluoroscopy=True, turnover_minutes=10),
        "us": RoomFactory(name="Ultrasound", has_fluoroscopy=False, has_ultrasound=True, turnover_minutes=0),
        "bays": [RecoveryBayFactory(name="Bay 1"), RecoveryBayFactory(name="Bay 2")],
        "tfesi": ProcedureTypeFactory(name="Lumbar TFESI", procedure_minutes=30, monitoring_minutes=15),
        "prp": ProcedureTypeFactory(
            name="PRP knee",
            imaging="ultrasound",
            procedure_minutes=30,
            monitoring_minutes=15,
            bleeding_risk="low",
        ),
        "monday": next_monday(),
        "patients": [PatientFactory(last_name=f"Patient{i}") for i in range(6)],
    }


def book(clinic, *, patient=0, physician="lee", hh=9, mm=0, actor=None, **kwargs) -> Appointment:
    """Book the clinic's TFESI on its Monday at hh:mm through the booking service."""
    return appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][patient],
            procedure_type=clinic["tfesi"],
            physician=clinic[physician],
            start=at(clinic["monday"], hh, mm),
            **kwargs,
        ),
        actor=actor,
    )
