"""Outcome pages: one patient's pain over time (with clinic entry forms for the pain score and the optional
instruments the clinic collects), the facet RFA pathway board, and the physician outcomes dashboard with
its CSV. The dashboard's charts are inline SVG whose coordinates are worked out here (no JavaScript)."""

import csv
from collections.abc import Callable
from math import ceil

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from procedures.access import patient_get_for_user
from procedures.forms.outcomes import InstrumentScoreForm, OutcomesFilterForm, PainScoreForm
from procedures.models import Appointment, Instrument, PainSource, Patient, SpinalRegion
from procedures.roles import outcomes_dashboard_allowed
from procedures.selectors.outcomes import (
    LASTING_RELIEF_PERCENT,
    MODERATE_NRS_DROP,
    MODERATE_RELIEF_PERCENT,
    OUTCOME_WINDOWS,
    RFA_BOARD_COLUMNS,
    SUBSTANTIAL_RELIEF_PERCENT,
    Dashboard,
    OutcomeGroup,
    ReliefDuration,
    instrument_timeline,
    outcome_settings,
    outcomes_dashboard,
    pain_timeline,
    rfa_board,
    rfa_rule,
)
from procedures.selectors.rollups import rollups_reuse
from procedures.services.instruments import UNKNOWN_INSTRUMENT, instrument_score_record
from procedures.services.outcomes import OutcomeError, pain_score_record


@permission_required("procedures.view_painscore", raise_exception=True)
def pain_timeline_view(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    can_add = request.user.has_perm("procedures.add_painscore")
    # The instrument forms post their instrument's code; anything else is the pain-score form.
    posted_instrument = request.POST.get("instrument", "") if request.method == "POST" else ""
    # Read first: its discharged procedures are also what every form's "After procedure" offers.
    timeline = pain_timeline(patient_id=patient.pk)
    form = PainScoreForm(
        None if posted_instrument else (request.POST or None), patient=patient, procedures=timeline.procedures
    )
    instrument_forms = _instrument_forms(request, patient, posted_instrument, timeline.procedures)
    if posted_instrument:
        if not request.user.has_perm("procedures.add_instrumentscore"):
            raise PermissionDenied
        if posted_instrument not in instrument_forms:
            messages.error(request, UNKNOWN_INSTRUMENT.format(instrument=posted_instrument))
        elif _instrument_record(request, patient, instrument_forms[posted_instrument]):
            return redirect("pain-timeline", patient_id=patient.pk)
    elif request.method == "POST":
        if not can_add:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                pain_score_record(
                    patient=patient,
                    score=data["score"],
                    percent_relief=data["percent_relief"],
                    recorded_at=data["recorded_at"],
                    appointment=data["appointment"],
                    source=PainSource.CLINIC,
                    actor=request.user,
                )
            except OutcomeError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                messages.success(request, f"Pain score {data['score']}/10 recorded.")
                return redirect("pain-timeline", patient_id=patient.pk)
    can_view_instruments = request.user.has_perm("procedures.view_instrumentscore")
    instrument_points = (
        instrument_timeline(patient_id=patient.pk, procedures=timeline.procedures)
        if can_view_instruments
        else []
    )
    return render(
        request,
        "procedures/outcomes/pain_timeline.html",
        {
            "patient": patient,
            "timeline": timeline,
            "form": form,
            "can_add": can_add,
            "instrument_points": instrument_points,
            "instrument_forms": list(instrument_forms.values()),
            "show_instruments": can_view_instruments and bool(instrument_points or instrument_forms),
        },
    )


def _instrument_forms(
    request: HttpRequest, patient: Patient, posted: str, procedures: list[Appointment]
) -> dict[str, InstrumentScoreForm]:
    """One clinic-entry form per instrument the clinic collects, for users who may add them. A post for an
    instrument turned off since the page was drawn gets its form too, so the refusal is shown beside it."""
    codes = outcome_settings().instruments if request.user.has_perm("procedures.add_instrumentscore") else []
    if posted in Instrument.values and posted not in codes:
        codes = [*codes, posted]
    return {
        code: InstrumentScoreForm(
            request.POST if code == posted else None, patient=patient, instrument=code, procedures=procedures
        )
        for code in codes
    }


def _instrument_record(request: HttpRequest, patient: Patient, form: InstrumentScoreForm) -> bool:
    """Record the posted instrument value; False (errors on the form) when it was refused."""
    if not form.is_valid():
        return False
    data = form.cleaned_data
    try:
        score = instrument_score_record(
            patient=patient,
            instrument=form.instrument,
            value=data["value"],
            recorded_at=data["recorded_at"],
            appointment=data["appointment"],
            source=PainSource.CLINIC,
            actor=request.user,
        )
    except OutcomeError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return False
    messages.success(request, f"{score.get_instrument_display()} {score.display_value} recorded.")
    return True


RFA_BOARD_PAGE = 100


@permission_required("procedures.view_appointment", raise_exception=True)
def rfa_pathway_view(request: HttpRequest) -> HttpResponse:
    """The board shows each column's first RFA_BOARD_PAGE patients by name; ?column=<key>&page=<n> pages
    through one column (a network's board holds thousands)."""
    column = request.GET.get("column")
    if column not in {key for key, _, _ in RFA_BOARD_COLUMNS}:
        column = None
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    today = timezone.localdate()
    # Each row links to the pain chart for those who may see it, else to the patient page.
    can_view_pain = request.user.has_perm("procedures.view_painscore")

    def draw() -> tuple[str, bool]:
        board = rfa_board(
            today=today,
            per_column=RFA_BOARD_PAGE,
            column=column,
            offset=(page - 1) * RFA_BOARD_PAGE if column else 0,
        )
        html = render_to_string(
            "procedures/outcomes/_rfa_columns.html", {"board": board, "can_view_pain": can_view_pain}
        )
        return html, not board.waiting

    return render(
        request,
        "procedures/outcomes/rfa_pathway.html",
        {
            "rule": rfa_rule(),
            "columns": _drawn_once("rfa-board", (today, column, page, can_view_pain), draw),
            "can_view_dashboard": outcomes_dashboard_allowed(request.user),
        },
    )


# --- Physician outcomes dashboard --------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 640, 260
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 44, 16, 24, 52  # margins; the bottom one holds the labels
PLOT_W, PLOT_H = CHART_WIDTH - CHART_LEFT - CHART_RIGHT, CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
CSV_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def _require_dashboard(user: AbstractBaseUser | AnonymousUser) -> None:
    if not outcomes_dashboard_allowed(user):
        raise PermissionDenied


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def _y(share: float) -> float:
    return round(CHART_TOP + (1 - share) * PLOT_H, 1)


def _gridlines() -> list[dict]:
    return [{"y": _y(share / 100), "label": f"{share}%"} for share in range(0, 101, 25)]


def _chart_frame() -> dict:
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "right": CHART_WIDTH - CHART_RIGHT,
        "top": CHART_TOP,
        "bottom": CHART_HEIGHT - CHART_BOTTOM,
        "gridlines": _gridlines(),
    }


def _responder_chart(group: OutcomeGroup) -> dict:
    """Two bars per timepoint (≥ 50 % relief; ≥ 30 % or ≥ 2 points), each labelled with its rate and n/N."""
    slot = PLOT_W / len(group.responders)
    bar = min(slot / 3, 48)
    bars, labels = [], []
    for index, rate in enumerate(group.responders):
        centre = CHART_LEFT + slot * (index + 0.5)
        for left, kind, count in (
            (centre - bar - 2, "substantial", rate.substantial),
            (centre + 2, "moderate", rate.moderate),
        ):
            top = _y(count / rate.assessed if rate.assessed else 0.0)
            bars.append(
                {
                    "kind": kind,
                    "x": round(left, 1),
                    "y": top,
                    "width": round(bar, 1),
                    "height": round(CHART_TOP + PLOT_H - top, 1),
                    "label": _percent(count, rate.assessed),
                    "label_x": round(left + bar / 2, 1),
                    "label_y": top - 4,
                    "title": f"{rate.timepoint.label}: {count} of {rate.assessed}",
                }
            )
        labels.append(
            {
                "x": round(centre, 1),
                "timepoint": rate.timepoint.label,
                "detail": f"days {rate.timepoint.days} · n = {rate.assessed}",
            }
        )
    return {**_chart_frame(), "bars": bars, "labels": labels}


def _km_chart(relief: ReliefDuration) -> dict:
    """The product-limit estimate as a step line from 100 % on day 0, a tick at each censored report."""
    last_day = max((step.day for step in relief.steps), default=0.0)
    # Room after the last day, so a drop or tick there does not sit on the frame.
    span = max(30, ceil((last_day + 1) / 30) * 30)

    def x(day: float) -> float:
        return round(CHART_LEFT + day / span * PLOT_W, 1)

    path = [f"M{x(0)},{_y(1.0)}"]
    ticks = []
    survival = 1.0
    for step in relief.steps:
        path.append(f"H{x(step.day)}")
        if step.events:
            survival = step.survival
            path.append(f"V{_y(survival)}")
        if step.censored:
            ticks.append({"x": x(step.day), "y": _y(survival)})
    median = relief.median_days
    return {
        **_chart_frame(),
        "path": " ".join(path),
        "censor_ticks": ticks,
        "half_y": _y(0.5),
        "median_x": x(median) if median is not None else None,
        "median_label": f"median {median:.0f} days" if median is not None else "",
        # Near the right edge the label goes to the left of its line.
        "median_label_end": median is not None and x(median) > CHART_WIDTH - CHART_RIGHT - 110,
        "axis": [{"x": x(day), "day": day} for day in range(0, span + 1, 30 if span <= 240 else 60)],
        "steps": [
            {
                "day": step.day,
                "at_risk": step.at_risk,
                "events": step.events,
                "censored": step.censored,
                "survival": f"{100 * step.survival:.0f}%",
            }
            for step in relief.steps
        ],
    }


def _filter_summary(form: OutcomesFilterForm) -> str:
    data = form.cleaned_data
    parts = [
        data["procedure_type"].name if data.get("procedure_type") else "",
        SpinalRegion(data["region"]).label if data.get("region") else "",
        data["physician"].display_name if data.get("physician") else "",
    ]
    if data.get("date_from") or data.get("date_to"):
        parts.append(f"{data.get('date_from') or '…'} to {data.get('date_to') or '…'}")
    return " · ".join(part for part in parts if part) or "All procedures done"


def outcomes_dashboard_view(request: HttpRequest) -> HttpResponse:
    _require_dashboard(request.user)
    form = OutcomesFilterForm(request.GET)
    context: dict = {"form": form, "windows": OUTCOME_WINDOWS}
    if form.is_valid():
        filters = form.dashboard_filters()
        context |= {
            "figures": _dashboard_figures(filters),
            "summary": _filter_summary(form),
            "csv_query": request.GET.urlencode(),
        }
    return render(request, "procedures/outcomes/dashboard.html", context)


def _drawn_once(name: str, parts: tuple, draw: Callable[[], tuple[str, bool]]) -> str:
    """HTML drawn from the rollups, reused while nothing it is drawn from changed (rollups_reuse)."""
    return mark_safe(rollups_reuse(name=name, parts=parts, build=draw))


def _dashboard_figures(filters: dict) -> str:
    """The figures part of the dashboard page (the same for everyone who may see it)."""

    def draw() -> tuple[str, bool]:
        dashboard = outcomes_dashboard(**filters)
        html = render_to_string(
            "procedures/outcomes/_figures.html",
            {
                "dashboard": dashboard,
                "windows": OUTCOME_WINDOWS,
                "responder_chart": _responder_chart(dashboard.total),
                "km_chart": _km_chart(dashboard.total.relief),
                "thresholds": {
                    "substantial": SUBSTANTIAL_RELIEF_PERCENT,
                    "moderate": MODERATE_RELIEF_PERCENT,
                    "points": MODERATE_NRS_DROP,
                    "lasting": LASTING_RELIEF_PERCENT,
                },
            },
        )
        return html, not dashboard.waiting

    return _drawn_once("outcomes-figures", tuple(sorted(filters.items())), draw)


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A name typed by a clinic admin must not run as a formula in a spreadsheet.
    return f"'{text}" if text.startswith(CSV_DANGEROUS_START) else text


def _rate(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def dashboard_csv_rows(dashboard: Dashboard) -> list[list[str]]:
    """The dashboard as a table: a header, one row per procedure type, then the total."""
    header = ["group", "procedure_type_id", "spinal_region", "procedures_done", "baseline_n", "baseline_mean"]
    for t in dashboard.windows:
        header += [
            f"{t.key}_window_days",
            f"{t.key}_with_score",
            f"{t.key}_assessed",
            f"{t.key}_no_score",
            f"{t.key}_no_score_window_open",
            f"{t.key}_relief_50_n",
            f"{t.key}_relief_50_percent",
            f"{t.key}_relief_30_or_2_points_n",
            f"{t.key}_relief_30_or_2_points_percent",
        ]
    header += [
        "km_followed",
        "km_relief_lost",
        "km_censored",
        "km_no_report",
        "km_median_days",
        "followups_answered",
        "followups_missed",
        "followups_sent_overdue",
        "followup_completion_percent",
        "complications",
        "complication_percent",
    ]
    rows = [header]
    for group in [*dashboard.groups, dashboard.total]:
        row = [
            group.label,
            group.procedure_type_id or "",
            group.spinal_region,
            group.done,
            group.baseline_count,
            "" if group.baseline_mean is None else f"{group.baseline_mean:.2f}",
        ]
        for rate in group.responders:
            row += [
                rate.timepoint.days.replace("–", "-"),
                rate.with_score,
                rate.assessed,
                rate.no_score,
                rate.pending,
                rate.substantial,
                _rate(rate.substantial_rate),
                rate.moderate,
                _rate(rate.moderate_rate),
            ]
        relief = group.relief
        row += [
            relief.followed,
            relief.events,
            relief.censored,
            relief.no_report,
            "" if relief.median_days is None else f"{relief.median_days:.1f}",
            group.followups_answered,
            group.followups_missed,
            group.followups_overdue,
            _rate(group.followup_rate),
            group.complications,
            _rate(group.complication_rate),
        ]
        rows.append([_csv_cell(value) for value in row])
    return rows


def outcomes_dashboard_csv(request: HttpRequest) -> HttpResponse:
    _require_dashboard(request.user)
    form = OutcomesFilterForm(request.GET)
    if not form.is_valid():
        problems = "\n".join(
            f"{name}: {message}" for name, messages in form.errors.items() for message in messages
        )
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    dashboard = outcomes_dashboard(**form.dashboard_filters())
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(dashboard.computed_at)
    response["Content-Disposition"] = f'attachment; filename="outcomes-{stamp:%Y-%m-%d}.csv"'
    csv.writer(response).writerows(dashboard_csv_rows(dashboard))
    return response
