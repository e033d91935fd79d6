"""The demo clinic that `make run` loads: staff logins, rooms, bays, the catalogue, patients and a few
weeks of procedures around today. Loaded once; running it again adds nothing twice."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from auditlog.context import disable_auditlog
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from procedures.models import (
    Appointment,
    AppointmentStatus,
    ChecklistKind,
    ClearanceStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    HoldKind,
    HoldPlan,
    Instrument,
    InstrumentScore,
    ItemState,
    Medication,
    OutcomeSettings,
    PainScore,
    PainSource,
    Patient,
    PhysicianProfile,
    ProcedureRecord,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    SafetyOverride,
    WorkingHours,
)
from procedures.roles import Role
from procedures.services.appointments import appointment_transition
from procedures.services.booking import BookingConflict, BookingInvalid, BookingRequest, appointment_book
from procedures.services.catalogue import catalogue_seed
from procedures.services.dayof import appointment_check_in, procedure_finish, procedure_start, vitals_record
from procedures.services.medications import patient_medication_add
from procedures.services.messaging import messages_held, messages_send_due
from procedures.services.protocol import protocol_seed
from procedures.services.roles import roles_sync
from procedures.services.rollups import rollups_sweep
from procedures.services.safety import (
    DERIVED,
    checklist_mark,
    clearance_record,
    hold_line_override,
    hold_plan_confirm,
    holds_patient_confirm,
    safety_override,
)

DEMO_PASSWORD = "spinedesk"
DEMO_LOGINS = {
    # username: (first, last, role, is_staff)
    "frontdesk": ("Maria", "Gomez", Role.FRONT_DESK, False),
    "nurse": ("Sam", "Ortiz", Role.NURSE, False),
    "physician": ("Alex", "Lee", Role.PHYSICIAN, False),
    "admin": ("Robin", "Hart", Role.CLINIC_ADMIN, True),
}
# Physicians without a demo login (their accounts have no usable password).
OTHER_PHYSICIANS = {"drpatel": ("Priya", "Patel"), "drnguyen": ("Minh", "Nguyen")}
PHYSICIAN_COLOURS = ["#0d6efd", "#198754", "#6f42c1"]
ROOMS = [("Fluoro 1", True, False), ("Fluoro 2", True, True), ("Ultrasound room", False, True)]
BAYS = ["Bay 1", "Bay 2", "Bay 3", "Bay 4"]
DEMO_MRN_PREFIX = "D"
DEMO_PATIENTS = 60
_FIRST = [
    "James",
    "Linda",
    "Robert",
    "Patricia",
    "Michael",
    "Barbara",
    "William",
    "Elizabeth",
    "David",
    "Susan",
    "Richard",
    "Jessica",
    "Joseph",
    "Sarah",
    "Thomas",
    "Karen",
    "Carlos",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Dorothy",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
]
_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
]


def _user(username: str, first: str, last: str, *, role: str, password: str | None, is_staff: bool = False):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "is_staff": is_staff}
    )
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


def _staff() -> list[PhysicianProfile]:
    for username, (first, last, role, is_staff) in DEMO_LOGINS.items():
        _user(username, first, last, role=role, password=DEMO_PASSWORD, is_staff=is_staff)
    physicians = []
    everyone = {"physician": ("Alex", "Lee"), **OTHER_PHYSICIANS}
    for index, (username, (first, last)) in enumerate(everyone.items()):
        user = _user(username, first, last, role=Role.PHYSICIAN, password=None)
        profile, _ = PhysicianProfile.objects.get_or_create(
            user=user, defaults={"display_name": f"Dr {last}", "calendar_colour": PHYSICIAN_COLOURS[index]}
        )
        physicians.append(profile)
    return physicians


def _patients(today: date) -> list[Patient]:
    patients = []
    for i in range(DEMO_PATIENTS):
        first, last = _FIRST[i % 30], _LAST[(i * 7) % 30]
        birth_year = today.year - 38 - (i * 7) % 45
        patient, _ = Patient.objects.get_or_create(
            mrn=f"{DEMO_MRN_PREFIX}{1001 + i}",
            defaults={
                "first_name": first,
                "last_name": last,
                "date_of_birth": date(birth_year, 1 + i % 12, 1 + (i * 3) % 28),
                "phone": f"+155501{2100 + i:05d}",
                "email": f"{first.lower()}.{last.lower()}{i}@example.org",
                "preferred_channel": "sms" if i % 3 else "email",
                "consent_sms": i % 3 != 0,
                "consent_sms_at": timezone.now() if i % 3 != 0 else None,
                "consent_email": True,
                "consent_email_at": timezone.now(),
                "language": "es" if i % 10 == 7 else "en",
                "diabetes": i % 5 == 1,
                "bleeding_disorder": i == 13,
                "allergy_contrast": i % 11 == 4,
                "allergy_latex": i == 8,
            },
        )
        patients.append(patient)
    return patients


DEMO_MEDICATIONS = [
    # patient index, generic name, indication, dose intent, dose
    (2, "warfarin", "", "", "5 mg once daily"),
    (5, "apixaban", "", "", "5 mg twice daily"),
    (9, "aspirin", "secondary", "", "81 mg once daily"),
    (11, "ibuprofen", "", "", "400 mg as needed"),
    (13, "clopidogrel", "", "", "75 mg once daily"),
    (16, "sertraline", "", "", "50 mg once daily"),
]


def _medications(patients: list[Patient]) -> None:
    clerk = get_user_model().objects.get(username="frontdesk")
    for index, name, indication, dose_intent, dose in DEMO_MEDICATIONS:
        patient_medication_add(
            patient_id=patients[index].pk,
            medication=Medication.objects.get(generic_name=name),
            actor=clerk,
            indication=indication,
            dose_intent=dose_intent,
            dose=dose,
        )


def _working_hours(physicians: list[PhysicianProfile]) -> None:
    """Weekdays 08:00–16:00 for everyone; a Saturday morning list for the first two physicians."""
    for index, physician in enumerate(physicians):
        if physician.working_hours.exists():
            continue
        rows = [
            WorkingHours(physician=physician, weekday=d, start_time=time(8), end_time=time(16))
            for d in range(5)
        ]
        if index < 2:
            rows.append(WorkingHours(physician=physician, weekday=5, start_time=time(8), end_time=time(12)))
        WorkingHours.objects.bulk_create(rows)


def _appointments(*, today: date, physicians, patients, actor) -> int:
    """Lists for each physician from a week ago to two weeks ahead, booked through the booking service
    (as if on the day before), so the demo obeys every rule a real booking does. Past days are discharged;
    today's list is part-way through the day."""
    tz = timezone.get_default_timezone()
    types = list(ProcedureType.objects.filter(imaging="fluoroscopy").order_by("name"))
    created = 0
    patient_cursor = 0
    for offset in range(-7, 11):
        day = today + timedelta(days=offset)
        for p_index, physician in enumerate(physicians):
            start = datetime.combine(day, time(8, 0), tzinfo=tz)
            day_end = start + timedelta(hours=8)
            slot = 0
            failures = 0
            while slot < 5 and start < day_end:
                ptype = types[(offset + p_index * 3 + slot) % len(types)]
                patient = patients[patient_cursor % len(patients)]
                sedated = ptype.sedation_allowed and slot % 4 == 3
                request = BookingRequest(
                    patient=patient,
                    procedure_type=ptype,
                    physician=physician,
                    start=start,
                    sedated=sedated,
                    side="bilateral" if ptype.family == "facet_rfa" else "midline",
                    levels="L4-L5" if ptype.spinal_region == "lumbar" else "",
                )
                try:
                    # Booked two weeks ahead, as a clinic would, so medication holds fit.
                    appt = appointment_book(request=request, actor=actor, now=start - timedelta(days=14))
                except (BookingConflict, BookingInvalid):
                    # Try the next patient at this time, then move on by a quarter hour.
                    patient_cursor += 1
                    failures += 1
                    if failures % 3 == 0:
                        start += timedelta(minutes=15)
                    continue
                patient_cursor += 1
                created += 1
                if offset == 0 and p_index == 0 and slot == 1:
                    _in_recovery_now(appt, actor=actor)
                else:
                    _advance(appt, offset=offset, slot=slot, actor=actor)
                start = appt.room_until
                slot += 1
    return created


def _advance(appt: Appointment, *, offset: int, slot: int, actor) -> None:
    S = AppointmentStatus
    if offset < 0:
        if slot == 4 and offset % 3 == 0:
            path = [(S.NO_SHOW, "")]
        elif slot == 2 and offset % 4 == 1:
            path = [(S.CANCELLED, "Patient unwell (cold); rebooking")]
        else:
            path = [
                (S.CONFIRMED, ""),
                (S.CHECKED_IN, ""),
                (S.IN_PROCEDURE, ""),
                (S.IN_RECOVERY, ""),
                (S.DISCHARGED, ""),
            ]
    elif offset == 0:
        path = [[(S.CONFIRMED, ""), (S.CHECKED_IN, "")], [(S.CONFIRMED, "")], [(S.CONFIRMED, "")], [], []][
            slot
        ]
    else:
        path = [(S.CONFIRMED, "")] if offset <= 2 and slot % 2 == 0 else []
    for status, reason in path:
        if status == S.IN_PROCEDURE:
            _complete_checklist(appt)
        at = max(appt.start, timezone.now()) if status == S.NO_SHOW else appt.start
        appointment_transition(appointment_id=appt.pk, to_status=status, actor=actor, reason=reason, at=at)


def _in_recovery_now(appt: Appointment, *, actor) -> None:
    """One patient in a recovery bay right now, so the recovery board has someone on it in the demo.
    Charted times are relative to now (actual times), whatever the booked time was."""
    User = get_user_model()
    nurse, physician = User.objects.get(username="nurse"), User.objects.get(username="physician")
    now = timezone.now()
    appointment_transition(
        appointment_id=appt.pk, to_status=AppointmentStatus.CONFIRMED, actor=actor, at=now - timedelta(days=2)
    )
    appointment_check_in(
        appointment_id=appt.pk,
        actor=nurse,
        name_confirmed=True,
        date_of_birth=appt.patient.date_of_birth,
        at=now - timedelta(minutes=55),
    )
    _complete_checklist(appt)
    procedure_start(appointment_id=appt.pk, actor=physician, at=now - timedelta(minutes=45), baseline_pain=7)
    procedure_finish(
        appointment_id=appt.pk,
        actor=physician,
        ended_at=now - timedelta(minutes=25),
        details={
            "levels": appt.levels,
            "side": appt.side,
            "imaging_used": "fluoroscopy",
            "local_anaesthetic": "lidocaine 1% 3 mL",
        },
    )
    vitals_record(
        appointment_id=appt.pk,
        actor=nurse,
        taken_at=now - timedelta(minutes=20),
        systolic=134,
        diastolic=82,
        heart_rate=76,
        spo2=97,
        pain=3,
    )


def _complete_checklist(appt: Appointment) -> None:
    """What the nurse and physician did before each past demo procedure."""
    nurse = get_user_model().objects.get(username="nurse")
    physician = get_user_model().objects.get(username="physician")
    plan = HoldPlan.objects.filter(appointment=appt).first()
    if plan is not None and plan.lines.exists():
        for line in plan.lines.filter(needs_prescriber_clearance=True):
            clearance_record(
                line_id=line.pk, status=ClearanceStatus.CLEARED, actor=nurse, note="Demo: prescriber agreed"
            )
        for line in plan.lines.filter(hold_kind=HoldKind.UNSET, override_hold_hours__isnull=True):
            hold_line_override(
                line_id=line.pk, hold_hours=0, reason="Continue: physician's judgement", actor=physician
            )
        hold_plan_confirm(appointment_id=appt.pk, actor=physician)
        holds_patient_confirm(appointment_id=appt.pk, actor=nurse)
    for item in appt.checklist.all():
        if item.state == ItemState.DONE or item.kind in DERIVED:
            continue
        value = {ChecklistKind.INR: Decimal("1.1"), ChecklistKind.GLUCOSE: Decimal("142")}.get(item.kind)
        checklist_mark(
            appointment_id=appt.pk, kind=item.kind, actor=physician if value else nurse, value=value
        )
    if appt.checklist.filter(kind=ChecklistKind.ELIGIBILITY, state=ItemState.OPEN).exists():
        safety_override(
            appointment_id=appt.pk,
            scope=SafetyOverride.Scope.ELIGIBILITY,
            actor=physician,
            reason="Reviewed in clinic: documentation on the paper chart",
        )


# Procedures done in the months before the demo's fortnight, with the check-ins a clinic would have by now,
# so that the outcomes dashboard has something to show: every ninth day from about seven months ago to three
# weeks ago, two procedures for each physician.
HISTORY_DAYS_AGO = range(222, 20, -9)
HISTORY_TYPES = [
    # name, typical relief (%) at two weeks, relief lost per day after that
    ("Lumbar transforaminal ESI", 55, 0.3),
    ("Lumbar radiofrequency ablation", 70, 0.15),
    ("Sacroiliac joint injection", 50, 0.35),
    ("Cervical interlaminar ESI", 45, 0.3),
    ("Lumbar facet joint injection", 40, 0.4),
]
HISTORY_CHECK_INS = [(14, "Week 2"), (30, "Month 1"), (90, "Month 3"), (180, "Month 6")]
HISTORY_COMPLICATION = "Vasovagal episode, resolved lying flat"


def _history(*, today: date, physicians: list[PhysicianProfile], patients: list[Patient]) -> int:
    """Done procedures with their records, pain scores and follow-up points, written in bulk (as the scale
    seed does) and consistent by construction: each physician has two procedures two hours apart, the first
    two physicians in their own rooms in the morning, the third in the first room in the afternoon, each
    with their own bay, and no patient twice on one day. Outcomes are drawn from a fixed seed."""
    rng = random.Random(7)
    # Its own generator, so the PGIC answers leave the pain history drawn from `rng` as it was.
    pgic_rng = random.Random(11)
    tz = timezone.get_default_timezone()
    now = timezone.now()
    types = [
        (ProcedureType.objects.get(name=name), relief, fade)
        for name, relief, fade in HISTORY_TYPES
        if ProcedureType.objects.filter(name=name).exists()
    ]
    rooms = list(ProcedureRoom.objects.filter(has_fluoroscopy=True).order_by("name")[:2])
    bays = list(RecoveryBay.objects.order_by("name")[: len(physicians)])
    if not types or len(rooms) < 2 or len(bays) < len(physicians):
        return 0
    planned = []
    for day_index, days_ago in enumerate(HISTORY_DAYS_AGO):
        day = today - timedelta(days=days_ago)
        if day.weekday() >= 5:
            day -= timedelta(days=day.weekday() - 4)  # the Friday before: the clinic is closed at weekends
        for p_index, physician in enumerate(physicians):
            first_hour = 13 if p_index >= 2 else 8
            for slot in range(2):
                ptype, relief, fade = types[(day_index + p_index * 2 + slot) % len(types)]
                patient = patients[(day_index * 7 + p_index * 2 + slot) % len(patients)]
                start = datetime.combine(day, time(first_hour + 2 * slot), tzinfo=tz)
                end = start + timedelta(minutes=ptype.procedure_minutes)
                room = rooms[p_index % 2]
                planned.append(
                    (
                        Appointment(
                            patient=patient,
                            procedure_type=ptype,
                            physician=physician,
                            room=room,
                            recovery_bay=bays[p_index],
                            start=start,
                            end=end,
                            room_until=end + timedelta(minutes=room.turnover_minutes),
                            monitoring_until=end + timedelta(minutes=ptype.monitoring_minutes),
                            side="bilateral" if ptype.family == "facet_rfa" else "midline",
                            levels="L4-L5" if ptype.spinal_region == "lumbar" else "",
                            status=AppointmentStatus.DISCHARGED,
                            status_changed_at=end + timedelta(minutes=ptype.monitoring_minutes),
                        ),
                        relief,
                        fade,
                    )
                )
    appointments = Appointment.objects.bulk_create([appointment for appointment, _, _ in planned])
    records, scores, followups, impressions = [], [], [], []
    for appointment, (_, relief, fade) in zip(appointments, planned, strict=True):
        baseline = rng.randint(5, 9)
        records.append(
            ProcedureRecord(
                appointment=appointment,
                started_at=appointment.start,
                ended_at=appointment.end,
                baseline_pain=baseline,
                levels=appointment.levels,
                side=appointment.side,
                imaging_used="fluoroscopy",
                local_anaesthetic="lidocaine 1% 3 mL",
                complications=HISTORY_COMPLICATION if rng.random() < 0.04 else "",
            )
        )
        scores.append(
            PainScore(
                patient=appointment.patient,
                appointment=appointment,
                score=baseline,
                recorded_at=appointment.start,
                source=PainSource.DAY_OF,
            )
        )
        # Some patients do well, some do not; relief then fades.
        own_relief = relief + rng.randint(-35, 30)
        for days, label in HISTORY_CHECK_INS:
            due = appointment.end + timedelta(days=days)
            if due > now:
                status = FollowUpStatus.PLANNED
            elif due > now - timedelta(days=3):
                status = FollowUpStatus.SENT
            else:
                status = FollowUpStatus.ANSWERED if rng.random() < 0.8 else FollowUpStatus.MISSED
            followups.append(
                FollowUp(
                    appointment=appointment,
                    kind=FollowUpKind.CHECK_IN,
                    label=label,
                    due_at=due,
                    status=status,
                )
            )
            if status != FollowUpStatus.ANSWERED:
                continue
            percent = max(0, min(100, round(own_relief - fade * (days - 14) + rng.randint(-10, 10))))
            scores.append(
                PainScore(
                    patient=appointment.patient,
                    appointment=appointment,
                    score=round(baseline * (100 - percent) / 100),
                    # A clinic entry now and then gives the score alone; the dashboard works the relief out.
                    percent_relief=None if rng.random() < 0.15 else percent,
                    recorded_at=due + timedelta(hours=rng.randint(1, 30)),
                    source=PainSource.CHECK_IN,
                )
            )
            impressions.append(
                InstrumentScore(
                    patient=appointment.patient,
                    appointment=appointment,
                    instrument=Instrument.PGIC,
                    value=_demo_pgic(percent, pgic_rng),
                    recorded_at=scores[-1].recorded_at,
                    source=PainSource.CHECK_IN,
                )
            )
    ProcedureRecord.objects.bulk_create(records)
    PainScore.objects.bulk_create(scores)
    FollowUp.objects.bulk_create(followups)
    InstrumentScore.objects.bulk_create(impressions)
    return len(appointments)


def _demo_pgic(percent: int, rng: random.Random) -> int:
    """A believable global impression of change for the demo (1 = very much improved … 7 = very much
    worse): the more relief, the more improved, now and then a step either way."""
    base = 1 if percent >= 75 else 2 if percent >= 50 else 3 if percent >= 30 else 4 if percent >= 10 else 5
    return min(7, max(1, base + rng.choice((-1, 0, 0, 0, 1))))


@transaction.atomic
def demo_seed(*, today: date | None = None) -> dict[str, int]:
    # Demo rows are not anyone's clinical activity: keep them out of the audit trail (and fast).
    with disable_auditlog(), messages_held():
        return _demo_seed(today=today or timezone.localdate())


def _demo_seed(*, today: date) -> dict[str, int]:
    roles_sync()
    added_types = catalogue_seed()
    protocol_seed()
    for name, fluoro, ultrasound in ROOMS:
        ProcedureRoom.objects.get_or_create(
            name=name, defaults={"has_fluoroscopy": fluoro, "has_ultrasound": ultrasound}
        )
    for name in BAYS:
        RecoveryBay.objects.get_or_create(name=name)
    physicians = _staff()
    _working_hours(physicians)
    first_time = not Patient.objects.filter(mrn__startswith=DEMO_MRN_PREFIX).exists()
    patients = _patients(today)
    appointments = 0
    if first_time:
        _medications(patients)
        actor = get_user_model().objects.get(username="frontdesk")
        appointments = _appointments(today=today, physicians=physicians, patients=patients, actor=actor)
    history_from = datetime.combine(
        today - timedelta(days=HISTORY_DAYS_AGO.stop), time(), tzinfo=timezone.get_default_timezone()
    )
    if not Appointment.objects.filter(patient__in=patients, start__lt=history_from).exists():
        appointments += _history(today=today, physicians=physicians, patients=patients)
        # The history's check-ins answered the global impression of change, so the demo clinic collects
        # it; only with the history, so a clinic admin who turns it off keeps it off.
        OutcomeSettings.objects.update_or_create(pk=1, defaults={"collect_pgic": True})
    # The demo's bookings are made "now", so their confirmations are due at once: send them here (to the
    # file backends of a local run) rather than leave the first minutes of `make run` a backlog.
    sent = messages_send_due(limit=10_000)
    # Likewise the outcome rollups: the dashboard and the RFA board are whole from the first page.
    rollups_sweep()
    return {
        "procedure_types_added": added_types,
        "appointments_added": appointments,
        "messages_sent": sent.get("sent", 0),
    }
