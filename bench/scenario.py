"""What the benchmark asks for, worked out from the data set in the database (runs inside Django): the users
it logs in as, and each page or API call with the paths it rotates over."""

import os
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from procedures.models import Appointment, Patient, PhysicianProfile, ProcedureType
from procedures.roles import Role
from procedures.services.scale import PHYSICIAN_USERNAME

PASSWORD = "bench-only-password"
FRONT_DESK = "bench-frontdesk"
PHYSICIAN = PHYSICIAN_USERNAME.format(0)
SLOT_SEARCH_TYPE = "Lumbar transforaminal ESI"
# How many patients the patient page rotates over: enough that no one patient's rows stay hot.
PATIENT_SAMPLE = 200


@dataclass
class Endpoint:
    key: str
    label: str
    role: str  # whose session: FRONT_DESK or PHYSICIAN
    paths: list[str]
    p95_target_ms: float | None = 100.0
    note: str = ""
    extra: dict = field(default_factory=dict)


def bench_users() -> dict[str, object]:
    """The front-desk clerk and a physician of the data set, with a known password and an API token."""
    User = get_user_model()
    clerk, _ = User.objects.get_or_create(username=FRONT_DESK, defaults={"last_name": "Bench"})
    clerk.groups.add(Group.objects.get(name=Role.FRONT_DESK))
    physician = User.objects.get(username=PHYSICIAN)
    users = {FRONT_DESK: clerk, PHYSICIAN: physician}
    for user in users.values():
        # Only when it differs: a new password hash logs out every session of an earlier run still going.
        if not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
        Token.objects.get_or_create(user=user)
    return users


def busiest_day(*, around: date) -> date:
    """The fullest clinic day within a week of `around`: the front desk's heaviest day view."""
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(
        timezone.datetime.combine(around - timedelta(days=3), timezone.datetime.min.time())
    )
    row = (
        Appointment.objects.filter(start__gte=start, start__lt=start + timedelta(days=11))
        .annotate(day=TruncDate("start", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("-n", "day")
        .first()
    )
    return row["day"] if row else around


def _url(name: str, *args, query: str = "") -> str | None:
    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return None


def _resolves(path: str) -> bool:
    try:
        resolve(path.split("?")[0])
    except Resolver404:
        return False
    return True


def endpoints(*, today: date | None = None) -> list[Endpoint]:
    today = today or timezone.localdate()
    day = busiest_day(around=today)
    ptype = ProcedureType.objects.get(name=SLOT_SEARCH_TYPE)
    physician = PhysicianProfile.objects.get(user__username=PHYSICIAN)
    count = Patient.objects.count()
    step = max(1, count // PATIENT_SAMPLE)
    patient_ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True)[::step][:PATIENT_SAMPLE])
    found = [
        Endpoint("floor", "floor: logged-in view, one indexed query", FRONT_DESK,
                 [f"/bench/floor/?id={pk}" for pk in patient_ids], None),
        Endpoint("day", f"front-desk day view ({day:%a %d %b}, all physicians)", FRONT_DESK,
                 [_url("schedule-day", query=f"?date={day.isoformat()}")]),
        Endpoint("patient", f"patient page ({len(patient_ids)} patients in turn)", FRONT_DESK,
                 [_url("patient-detail", pk) for pk in patient_ids]),
        Endpoint("slots", "slot search API, 14 days, all physicians", FRONT_DESK,
                 [_url("api-slot-list", query=f"?procedure_type={ptype.pk}&date_from={today.isoformat()}"
                       f"&date_to={(today + timedelta(days=13)).isoformat()}")]),
        Endpoint("appointments", "appointment list API, one day", FRONT_DESK,
                 [_url("api-appointment-list", query=f"?date={day.isoformat()}")]),
    ]  # fmt: skip
    dashboard = _url("outcomes-dashboard")
    if dashboard:
        year = f"physician={physician.pk}&date_from={(today - timedelta(days=365)).isoformat()}&date_to={today.isoformat()}"
        found += [
            Endpoint("dashboard", "physician outcomes dashboard (whole clinic, all time)", PHYSICIAN, [dashboard], 300.0),
            Endpoint("dashboard_year", "outcomes dashboard, one physician, last 12 months", PHYSICIAN,
                     [f"{dashboard}?{year}"], 300.0),
        ]  # fmt: skip
    if _resolves("/api/v1/outcomes/"):
        found.append(
            Endpoint("dashboard_api", "outcomes API (whole clinic)", PHYSICIAN, ["/api/v1/outcomes/"], 300.0)
        )
    found += [
        Endpoint("week", "week view (all physicians)", FRONT_DESK,
                 [_url("schedule-week", query=f"?date={day.isoformat()}")], None, "not in the issue's list"),
        Endpoint("mine", "a physician's own day list", PHYSICIAN,
                 [_url("schedule-mine", query=f"?date={day.isoformat()}")], None, "not in the issue's list"),
        Endpoint("pain", "pain over time (patient chart)", FRONT_DESK,
                 [_url("pain-timeline", pk) for pk in patient_ids], None, "not in the issue's list"),
        Endpoint("rfa", "RFA pathway board", FRONT_DESK, [_url("rfa-pathway")], None, "not in the issue's list"),
    ]  # fmt: skip
    # BENCH_ENDPOINTS=day,slots measures only those (and the floor): for working on one page at a time.
    if keys := {k for k in os.environ.get("BENCH_ENDPOINTS", "").split(",") if k}:
        found = [e for e in found if e.key in keys | {"floor"}]
    for endpoint in found:
        endpoint.extra = {"day": day.isoformat(), "physician": physician.pk}
    return [e for e in found if all(e.paths)]
