"""Large, realistic data sets for benchmarks, written with bulk inserts (no per-row services: the rows are
generated consistent by construction — each physician has their own room and recovery bay, lists are
back to back, and a patient is never booked twice at once)."""

import random
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from procedures.models import (
    Appointment,
    AppointmentStatus,
    Patient,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    WorkingHours,
)
from procedures.roles import Role
from procedures.services.catalogue import catalogue_seed
from procedures.services.roles import roles_sync

BATCH = 5000
_FIRST = [
    "Ana",
    "Ben",
    "Cora",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivan",
    "Jude",
    "Kai",
    "Lena",
    "Milo",
    "Nia",
]
_LAST = ["Reyes", "Shaw", "Tran", "Usman", "Vega", "Wolfe", "Xu", "Young", "Zhou", "Abbott", "Baker", "Cole"]


def _physicians(count: int) -> list[PhysicianProfile]:
    User = get_user_model()
    group = Group.objects.get(name=Role.PHYSICIAN)
    physicians = []
    for i in range(count):
        user, _ = User.objects.get_or_create(username=f"scale-dr{i}", defaults={"last_name": f"Scale{i}"})
        user.groups.add(group)
        profile, created = PhysicianProfile.objects.get_or_create(
            user=user, defaults={"display_name": f"Dr Scale{i}"}
        )
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(physician=profile, weekday=d, start_time=time(8), end_time=time(16))
                for d in range(5)
            )
        physicians.append(profile)
    return physicians


def _patients(count: int, rng: random.Random) -> list[int]:
    existing = Patient.objects.filter(mrn__startswith="S").count()
    rows = [
        Patient(
            mrn=f"S{i:08d}",
            first_name=rng.choice(_FIRST),
            last_name=f"{rng.choice(_LAST)}{i}",
            date_of_birth=date(1940 + i % 50, 1 + i % 12, 1 + i % 28),
            phone=f"+1555{i % 10_000_000:07d}",
            email=f"p{i}@example.org",
        )
        for i in range(existing, count)
    ]
    for start in range(0, len(rows), BATCH):
        Patient.objects.bulk_create(rows[start : start + BATCH])
    return list(
        Patient.objects.filter(mrn__startswith="S").order_by("pk").values_list("pk", flat=True)[:count]
    )


@transaction.atomic
def scale_seed(
    *, patients: int, physicians: int, days: int, end: date | None = None, seed: int = 7
) -> dict[str, int]:
    """Bookings for `physicians` physicians over the `days` days up to `end` (default: 60 days from today),
    weekdays 08:00–16:00, back to back; past ones discharged (a few cancelled or no-show)."""
    rng = random.Random(seed)
    roles_sync()
    catalogue_seed()
    end = end or timezone.localdate() + timedelta(days=60)
    doctors = _physicians(physicians)
    rooms = [
        ProcedureRoom.objects.get_or_create(name=f"Scale room {i}", defaults={"has_fluoroscopy": True})[0]
        for i in range(physicians)
    ]
    bays = [RecoveryBay.objects.get_or_create(name=f"Scale bay {i}")[0] for i in range(physicians)]
    patient_ids = _patients(patients, rng)
    types = list(ProcedureType.objects.filter(imaging="fluoroscopy", procedure_minutes__lte=30))
    tz = timezone.get_default_timezone()
    now = timezone.now()
    today = timezone.localdate()
    rows: list[Appointment] = []
    created = 0
    cursor = 0
    day = end - timedelta(days=days)
    while day < end:
        if day.weekday() < 5:
            for index, physician in enumerate(doctors):
                start = datetime.combine(day, time(8), tzinfo=tz)
                close = datetime.combine(day, time(16), tzinfo=tz)
                while True:
                    ptype = types[rng.randrange(len(types))]
                    needle_end = start + timedelta(minutes=ptype.procedure_minutes)
                    if needle_end > close:
                        break
                    past = needle_end < now
                    roll = rng.random()
                    days_ahead = (day - today).days
                    if days_ahead > 0 and roll < min(0.8, 0.1 + days_ahead / 75):
                        # The further ahead, the emptier the book, as in a real clinic.
                        start = needle_end + timedelta(minutes=rooms[index].turnover_minutes)
                        continue
                    status = (
                        (
                            AppointmentStatus.CANCELLED
                            if roll < 0.05
                            else AppointmentStatus.NO_SHOW
                            if roll < 0.08
                            else AppointmentStatus.DISCHARGED
                        )
                        if past
                        else AppointmentStatus.CONFIRMED
                        if roll < 0.5
                        else AppointmentStatus.SCHEDULED
                    )
                    rows.append(
                        Appointment(
                            patient_id=patient_ids[cursor % len(patient_ids)],
                            procedure_type=ptype,
                            physician=physician,
                            room=rooms[index],
                            recovery_bay=bays[index],
                            start=start,
                            end=needle_end,
                            room_until=needle_end + timedelta(minutes=rooms[index].turnover_minutes),
                            monitoring_until=needle_end + timedelta(minutes=ptype.monitoring_minutes),
                            status=status,
                            status_changed_at=min(start, now),
                            cancel_reason="Patient request" if status == AppointmentStatus.CANCELLED else "",
                        )
                    )
                    cursor += 1
                    start = needle_end + timedelta(minutes=rooms[index].turnover_minutes)
                if len(rows) >= BATCH:
                    Appointment.objects.bulk_create(rows)
                    created += len(rows)
                    rows = []
        day += timedelta(days=1)
    Appointment.objects.bulk_create(rows)
    created += len(rows)
    return {"appointments": created, "patients": len(patient_ids), "physicians": len(doctors)}
