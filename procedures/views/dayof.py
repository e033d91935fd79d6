"""The day of the procedure: the check-in list, the physician's procedure page (start and finish), the live
recovery board with its quick observations, discharge and the after-care sheet, and the post-block diary.

Thin: the day-of services decide and explain (an identity that does not match, a time in the future, a full
recovery area, a discharge before the minimum time without a reason). A refusal is shown as an error message
naming the problem, with what was typed kept; the service has changed nothing. Missing permissions answer
403, as on the other pages."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from procedures.access import appointment_get_for_user
from procedures.forms.dayof import (
    CheckInForm,
    DiaryRowForm,
    DischargeForm,
    ProcedureFinishForm,
    ProcedureStartForm,
    SteroidFormSet,
    VitalsForm,
    now_clock,
    steroid_rows,
)
from procedures.forms.schedule import ScheduleDateForm
from procedures.models import (
    Appointment,
    AppointmentStatus,
    BlockDiaryEntry,
    Discharge,
    LegStrength,
    Numbness,
    ProcedureRecord,
)
from procedures.selectors.dayof import after_care, checkin_list, free_bays, recovery_board
from procedures.selectors.safety import safety_settings
from procedures.services.appointments import TransitionError
from procedures.services.dayof import (
    NOT_DIAGNOSTIC,
    TOO_EARLY,
    DayOfError,
    appointment_check_in,
    diary_record,
    earliest_discharge,
    patient_discharge,
    procedure_finish,
    procedure_start,
    vitals_record,
)

S = AppointmentStatus
CHECK_IN_STATUSES = (S.SCHEDULED, S.CONFIRMED)
DIARY_NOT_YET = "The diary starts when the procedure has ended."
# A diary point may be charted a little before its time (the patient is about to leave, say), not hours before.
DIARY_EARLY = timedelta(minutes=10)


def _clock(moment) -> str:
    return date_format(timezone.localtime(moment), "H:i")


def _who(appointment: Appointment) -> str:
    return appointment.patient.full_name


def _errors(form: Form) -> str:
    """Every problem of a refused form in one sentence-list: the service's refusal first, then each field's."""
    parts = [str(e) for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            parts.extend(str(e) for e in errors)
    return " ".join(parts)


def _record(appointment: Appointment) -> ProcedureRecord | None:
    try:
        return appointment.record
    except ProcedureRecord.DoesNotExist:
        return None


def _discharge(appointment: Appointment) -> Discharge | None:
    try:
        return appointment.discharge
    except Discharge.DoesNotExist:
        return None


# --- Check-in ----------------------------------------------------------------------------------------------


@dataclass
class ArrivalRow:
    arrival: object  # procedures.selectors.dayof.Arrival
    form: CheckInForm | None  # None once the patient is past check-in (or the user may not check in)


def _checkin_page(request: HttpRequest, *, day, bound: CheckInForm | None = None) -> HttpResponse:
    can_check_in = request.user.has_perm("procedures.change_appointment")
    rows = []
    for arrival in checkin_list(day=day):
        appointment = arrival.appointment
        form = None
        if can_check_in and appointment.status in CHECK_IN_STATUSES:
            form = bound if bound and bound.appointment.pk == appointment.pk else None
            form = form or CheckInForm(appointment=appointment)
        rows.append(ArrivalRow(arrival=arrival, form=form))
    today = timezone.localdate()
    return render(
        request,
        "procedures/dayof/checkin.html",
        {
            "rows": rows,
            "day": day,
            "today": today,
            "is_current": day == today,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "waiting": sum(1 for row in rows if row.arrival.appointment.status in CHECK_IN_STATUSES),
        },
    )


@require_GET
@permission_required("procedures.view_appointment", raise_exception=True)
def checkin_list_view(request: HttpRequest) -> HttpResponse:
    """`/day/checkin/?date=YYYY-MM-DD`: the day's patients by arrival time (today without a date)."""
    form = ScheduleDateForm(request.GET)
    if problem := form.problem():
        messages.error(request, problem)
    return _checkin_page(request, day=form.day())


def _checkin_url(appointment: Appointment) -> str:
    day = timezone.localdate(appointment.start)
    return f"{reverse('dayof-checkin')}?date={day:%Y-%m-%d}#arrival-{appointment.pk}"


@require_POST
@permission_required("procedures.change_appointment", raise_exception=True)
def check_in_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id, perm="change")
    form = CheckInForm(request.POST, appointment=appointment)
    if form.is_valid():
        try:
            appointment_check_in(
                appointment_id=appointment.pk,
                actor=request.user,
                name_confirmed=form.cleaned_data["name_confirmed"],
                date_of_birth=form.cleaned_data["date_of_birth"],
            )
        except (DayOfError, TransitionError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{_who(appointment)} checked in at {_clock(timezone.now())}: name and date of birth confirmed.",
            )
            return HttpResponseRedirect(_checkin_url(appointment))
    messages.error(request, f"{_who(appointment)} is not checked in. {_errors(form)}")
    return _checkin_page(request, day=timezone.localdate(appointment.start), bound=form)


# --- The procedure -------------------------------------------------------------------------------------------


def _procedure_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    start_form: ProcedureStartForm | None = None,
    finish_form: ProcedureFinishForm | None = None,
    steroids: SteroidFormSet | None = None,
) -> HttpResponse:
    record = _record(appointment)
    context = {"appt": appointment, "record": record, "start_form": None, "finish_form": None}
    if appointment.status == S.CHECKED_IN:
        context["start_form"] = start_form or ProcedureStartForm(initial={"at": now_clock()})
    elif appointment.status == S.IN_PROCEDURE:
        context["finish_form"] = finish_form or ProcedureFinishForm(
            initial=ProcedureFinishForm.initial_for(appointment=appointment, record=record)
        )
        context["steroids"] = steroids or SteroidFormSet(prefix="steroid")
    if record is not None and record.ended_at is not None:
        context["doses"] = list(appointment.steroid_doses.select_related("steroid"))
        context["earliest"] = earliest_discharge(appointment=appointment, record=record)
    return render(request, "procedures/dayof/procedure.html", context)


@require_GET
@permission_required("procedures.add_procedurerecord", raise_exception=True)
def procedure_page(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    return _procedure_page(request, appointment)


def _procedure_url(appointment: Appointment) -> str:
    return reverse("dayof-procedure", args=[appointment.pk])


@require_POST
@permission_required("procedures.add_procedurerecord", raise_exception=True)
def procedure_start_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id, perm="change")
    form = ProcedureStartForm(request.POST)
    if form.is_valid():
        try:
            record = procedure_start(
                appointment_id=appointment.pk,
                actor=request.user,
                at=form.cleaned_data["at"],
                baseline_pain=form.cleaned_data["baseline_pain"],
            )
        except (DayOfError, TransitionError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Procedure started at {_clock(record.started_at)} for {_who(appointment)}."
            )
            return HttpResponseRedirect(_procedure_url(appointment))
    messages.error(request, f"Not started. {_errors(form)}")
    appointment.refresh_from_db()
    return _procedure_page(request, appointment, start_form=form)


@require_POST
@permission_required("procedures.add_procedurerecord", raise_exception=True)
def procedure_finish_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    form = ProcedureFinishForm(request.POST)
    steroids = SteroidFormSet(request.POST, prefix="steroid")
    problems = ""
    if form.is_valid() and steroids.is_valid():
        try:
            record, warnings = procedure_finish(
                appointment_id=appointment.pk,
                actor=request.user,
                ended_at=form.cleaned_data["ended_at"],
                details=form.details(),
                steroids=steroid_rows(steroids),
            )
        except (DayOfError, TransitionError) as exc:
            form.add_error(None, str(exc))
        else:
            appointment.refresh_from_db()
            earliest = earliest_discharge(appointment=appointment, record=record)
            messages.success(
                request,
                f"Procedure charted, ended {_clock(record.ended_at)}. {_who(appointment)} goes to "
                f"{appointment.recovery_bay}; discharge from {_clock(earliest)} at the earliest.",
            )
            for warning in warnings:
                messages.warning(request, f"Charted, but check the steroid dose: {warning}")
            return HttpResponseRedirect(_procedure_url(appointment))
    problems = " ".join(
        part for part in [_errors(form), *(_errors(f) for f in steroids.forms if f.errors)] if part
    )
    messages.error(request, f"Not finished. {problems}")
    appointment.refresh_from_db()
    return _procedure_page(request, appointment, finish_form=form, steroids=steroids)


# --- The recovery board ---------------------------------------------------------------------------------------


@dataclass
class BoardCard:
    row: object  # procedures.selectors.dayof.BoardRow
    form: VitalsForm
    sedated: bool
    diary: bool

    @property
    def may_go(self) -> bool:
        """The minimum stay is over and the last round shows no new numbness or weakness: the Discharge
        button is the obvious next step (the discharge page still asks every criterion)."""
        last = self.row.last_vitals
        if last is None or self.row.seconds_left:
            return False
        return last.numbness != Numbness.NEW and last.leg_strength != LegStrength.WEAK

    @property
    def countdown(self) -> str:
        """m:ss to the earliest discharge, as the page's script goes on counting it."""
        minutes, seconds = divmod(self.row.seconds_left, 60)
        return f"{minutes}:{seconds:02d}"


def _board_context(request: HttpRequest, *, bound: VitalsForm | None = None) -> dict:
    now = timezone.now()
    rows = recovery_board(now=now)
    cards = []
    for row in rows:
        appointment = row.appointment
        form = bound if bound is not None and bound.appointment.pk == appointment.pk else None
        cards.append(
            BoardCard(
                row=row,
                form=form or VitalsForm(appointment=appointment),
                sedated=row.record.sedation_given or appointment.sedation_planned,
                diary=bool(appointment.procedure_type.diary_timepoints_minutes),
            )
        )
    return {
        "cards": cards,
        "free_bays": list(free_bays(rows=rows)),
        "now": now,
        "vitals_every": safety_settings().vitals_every_minutes,
    }


@require_GET
@permission_required("procedures.view_vitalsentry", raise_exception=True)
def recovery_board_view(request: HttpRequest) -> HttpResponse:
    return render(request, "procedures/dayof/recovery.html", _board_context(request))


@require_GET
@permission_required("procedures.view_vitalsentry", raise_exception=True)
def recovery_board_partial(request: HttpRequest) -> HttpResponse:
    """The board's cards alone, fetched by htmx every 30 seconds."""
    return render(request, "procedures/dayof/_board.html", _board_context(request))


def _board_url(appointment: Appointment) -> str:
    return f"{reverse('dayof-recovery')}#card-{appointment.pk}"


@require_POST
@permission_required("procedures.add_vitalsentry", raise_exception=True)
def vitals_add_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    form = VitalsForm(request.POST, appointment=appointment)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = vitals_record(
                appointment_id=appointment.pk,
                actor=request.user,
                taken_at=data["taken_at"] or timezone.now(),
                systolic=data["systolic"],
                diastolic=data["diastolic"],
                heart_rate=data["heart_rate"],
                spo2=data["spo2"],
                pain=data["pain"],
                leg_strength=data["leg_strength"],
                numbness=data["numbness"],
                note=data["note"],
            )
        except DayOfError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{appointment.recovery_bay or 'Recovery'} · {_who(appointment)}: observations of "
                f"{_clock(entry.taken_at)} charted.",
            )
            return HttpResponseRedirect(_board_url(appointment))
    messages.error(request, f"{_who(appointment)}: observations not charted. {_errors(form)}")
    return render(request, "procedures/dayof/recovery.html", _board_context(request, bound=form))


# --- Discharge and after-care -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("procedures.add_discharge", raise_exception=True)
def discharge_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    if appointment.status == S.DISCHARGED:
        messages.info(request, f"{_who(appointment)} has already been discharged.")
        return HttpResponseRedirect(reverse("dayof-after-care", args=[appointment.pk]))
    record = _record(appointment)
    sedated = bool(record and record.sedation_given) or appointment.sedation_planned
    earliest = (
        earliest_discharge(appointment=appointment, record=record)
        if record is not None and record.ended_at is not None
        else None
    )
    if request.method == "POST":
        form = DischargeForm(request.POST, sedated=sedated)
        if form.is_valid():
            data = form.cleaned_data
            try:
                discharge = patient_discharge(
                    appointment_id=appointment.pk,
                    actor=request.user,
                    at=data["at"],
                    vitals_stable=data["vitals_stable"],
                    walks_safely=data["walks_safely"],
                    pain_controlled=data["pain_controlled"],
                    escort_present=data.get("escort_present") if sedated else None,
                    early_reason=data["early_reason"],
                )
            except (DayOfError, TransitionError) as exc:
                form.add_error(None, str(exc))
            else:
                bay = f" {appointment.recovery_bay} is free again." if appointment.recovery_bay else ""
                messages.success(
                    request,
                    f"{_who(appointment)} discharged at {_clock(discharge.discharged_at)}.{bay} "
                    "Give the patient the after-care sheet below.",
                )
                return HttpResponseRedirect(reverse("dayof-after-care", args=[appointment.pk]))
        messages.error(request, f"{_who(appointment)} is not discharged. {_errors(form)}")
        chosen = form.cleaned_data.get("at") if form.is_bound else None
        early = earliest is not None and (chosen or timezone.now()) < earliest
    else:
        form = DischargeForm(sedated=sedated)
        early = earliest is not None and timezone.now() < earliest
    return render(
        request,
        "procedures/dayof/discharge.html",
        {
            "appt": appointment,
            "record": record,
            "form": form,
            "sedated": sedated,
            "earliest": earliest,
            "early": early or bool(form.data.get("early_reason", "").strip()),
            "reason_missing": any(
                str(error).startswith(TOO_EARLY.split("{")[0]) for error in form.non_field_errors()
            ),
            "vitals": list(appointment.vitals.all()) if appointment.status == S.IN_RECOVERY else [],
            "can_discharge": appointment.status == S.IN_RECOVERY,
        },
    )


@require_GET
@permission_required("procedures.view_discharge", raise_exception=True)
def after_care_page(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    return render(
        request,
        "procedures/dayof/after_care.html",
        {
            "appt": appointment,
            "care": after_care(appointment=appointment),
            "record": _record(appointment),
            "discharge": _discharge(appointment),
        },
    )


# --- The post-block diary ------------------------------------------------------------------------------------


@dataclass
class DiaryRow:
    minutes: int
    due: object  # datetime | None
    entry: BlockDiaryEntry | None
    form: DiaryRowForm
    not_yet: bool  # its time has not come (a few minutes early is fine)

    @property
    def opens_at(self):
        return self.due - DIARY_EARLY if self.due else None


@require_http_methods(["GET", "POST"])
@permission_required("procedures.add_blockdiaryentry", raise_exception=True)
def diary_view(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = appointment_get_for_user(user=request.user, appointment_id=appointment_id)
    bound = None
    if request.method == "POST":
        raw = request.POST.get("minutes_after", "")
        minutes = int(raw) if raw.isdigit() else -1
        bound = DiaryRowForm(request.POST, minutes=minutes)
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                diary_record(
                    appointment_id=appointment.pk,
                    minutes_after=data["minutes_after"],
                    pain=data["pain"],
                    relief_percent=data["relief_percent"],
                    source=data["source"],
                    actor=request.user,
                )
            except DayOfError as exc:
                bound.add_error(None, str(exc))
            else:
                appointment.refresh_from_db()
                messages.success(
                    request,
                    f"{minutes} min after the block: pain {data['pain']}, relief {data['relief_percent']} %. "
                    f"Peak relief so far: {appointment.block_peak_relief_percent} %.",
                )
                return HttpResponseRedirect(
                    reverse("dayof-diary", args=[appointment.pk]) + f"#diary-{minutes}"
                )
        messages.error(request, f"Not charted. {_errors(bound)}")
    record = _record(appointment)
    ended = record.ended_at if record is not None else None
    now = timezone.now()
    entries = {entry.minutes_after: entry for entry in appointment.diary.all()}
    rows = []
    for minutes in appointment.procedure_type.diary_timepoints_minutes or []:
        entry = entries.get(minutes)
        if bound is not None and bound.minutes == minutes:
            form = bound
        else:
            initial = {"minutes_after": minutes}
            if entry:
                initial.update(pain=entry.pain, relief_percent=entry.relief_percent, source=entry.source)
            form = DiaryRowForm(initial=initial, minutes=minutes)
        rows.append(
            DiaryRow(
                minutes=minutes,
                due=ended + timedelta(minutes=minutes) if ended else None,
                entry=entry,
                form=form,
                not_yet=ended is not None and ended + timedelta(minutes=minutes) > now + DIARY_EARLY,
            )
        )
    return render(
        request,
        "procedures/dayof/diary.html",
        {
            "appt": appointment,
            "record": record,
            "rows": rows,
            "now": now,
            "not_diagnostic": NOT_DIAGNOSTIC if not rows else "",
            "not_yet": DIARY_NOT_YET if rows and ended is None else "",
        },
    )
