"""The clinic pain-score and instrument forms on the pain timeline, and the outcomes dashboard's filters.
The pain-score form only parses what was typed; the range and date rules are the service's
(procedures.services.outcomes), whose messages are shown next to the field."""

from collections.abc import Iterable
from datetime import tzinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from procedures.forms.booking import (
    NO_SUCH_CHOICE,
    RANGE_BACKWARDS,
    ClinicDateField,
    ClinicDateTimeField,
    ListedModelChoiceField,
)
from procedures.forms.widgets import python_widget_renderer
from procedures.models import (
    INSTRUMENT_RANGES,
    PGIC_ANCHORS,
    Appointment,
    AppointmentStatus,
    Instrument,
    Patient,
    PhysicianProfile,
    ProcedureType,
    SpinalRegion,
)
from procedures.services.instruments import PGIC_RANGE

WHOLE_NUMBER = "Enter {what} as a whole number."
PGIC_REQUIRED = "Choose the patient's answer, from 1 (very much improved) to 7 (very much worse)."
NO_SUCH_PROCEDURE = "After procedure: “%(value)s” is not one of this patient's discharged procedures."


class ProcedureChoiceField(forms.ChoiceField):
    """The "After procedure" select: one of the patient's discharged procedures, newest first, or none. The
    choices are plain (id, label) pairs from one list the page already holds (`procedures` on the forms),
    not a query per select; a posted id is read as the database would read it, must be one of them, and
    cleans to its Appointment."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"invalid_choice": NO_SUCH_PROCEDURE})
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        if value in self.empty_values:
            return ""
        try:
            return str(int(str(value)))  # as the primary-key lookup reads it: " 12" is 12
        except ValueError as exc:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from exc

    def clean(self, value) -> Appointment | None:
        chosen = super().clean(value)
        if not chosen:
            return None
        try:
            return Appointment.objects.select_related("procedure_type").get(pk=chosen)
        except Appointment.DoesNotExist as exc:  # deleted since the page was drawn
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from exc


def _procedure_label(appointment: Appointment, zone: tzinfo) -> str:
    return (
        f"{timezone.localtime(appointment.start, zone):%Y-%m-%d} {appointment.procedure_type.name}"
        + (f" {appointment.levels}" if appointment.levels else "")
        + (f" ({appointment.get_side_display().lower()})" if appointment.side != "midline" else "")
    )


def _discharged_procedures(patient: Patient) -> list[Appointment]:
    """What the forms offer when the page did not pass its list: the patient's discharged procedures, with
    the columns the labels need."""
    return list(
        Appointment.objects.filter(patient=patient, status=AppointmentStatus.DISCHARGED)
        .select_related("procedure_type")
        .only("id", "start", "levels", "side", "procedure_type__name")
    )


def _offer_discharged_procedures(
    field: ProcedureChoiceField, patient: Patient, procedures: Iterable[Appointment] | None
) -> None:
    """`procedures`: the patient's discharged procedures (the pain timeline's list, in any order); None
    loads them."""
    if procedures is None:
        procedures = _discharged_procedures(patient)
    newest_first = sorted(procedures, key=lambda a: a.start, reverse=True)
    zone = timezone.get_current_timezone()
    field.choices = [("", "— none —"), *((str(a.pk), _procedure_label(a, zone)) for a in newest_first)]


class PainScoreForm(forms.Form):
    default_renderer = python_widget_renderer

    score = forms.IntegerField(
        label="Pain now (0–10)",
        error_messages={"invalid": WHOLE_NUMBER.format(what="the score")},
        widget=forms.NumberInput(attrs={"min": 0, "max": 10, "step": 1, "class": "form-control"}),
    )
    percent_relief = forms.IntegerField(
        label="Relief %",
        required=False,
        error_messages={"invalid": WHOLE_NUMBER.format(what="the relief")},
        widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1, "class": "form-control"}),
    )
    recorded_at = ClinicDateTimeField(
        label="When",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    appointment = ProcedureChoiceField(
        label="After procedure", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(
        self, *args, patient: Patient, procedures: Iterable[Appointment] | None = None, **kwargs
    ) -> None:
        kwargs.setdefault("initial", {"recorded_at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(*args, **kwargs)
        _offer_discharged_procedures(self.fields["appointment"], patient, procedures)


class InstrumentScoreForm(forms.Form):
    """A clinic entry of one optional instrument (the page shows one form per instrument the clinic
    collects, each with its instrument's prefix). Like the pain-score form it only parses: the range, the
    setting and the date rules are procedures.services.instruments'."""

    default_renderer = python_widget_renderer

    recorded_at = ClinicDateTimeField(
        label="When",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    appointment = ProcedureChoiceField(
        label="After procedure", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(
        self,
        *args,
        patient: Patient,
        instrument: str,
        procedures: Iterable[Appointment] | None = None,
        **kwargs,
    ) -> None:
        kwargs.setdefault("prefix", instrument)
        kwargs.setdefault("initial", {"recorded_at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(*args, **kwargs)
        self.instrument = Instrument(instrument)
        low, high = INSTRUMENT_RANGES[instrument]
        if self.instrument == Instrument.PGIC:
            # The anchors beside the numbers: staff copying a paper form must not have to remember which end
            # of the scale is "improved".
            value = forms.TypedChoiceField(
                label="PGIC",
                choices=[
                    ("", "— choose —"),
                    *((str(v), f"{v} · {text}") for v, text in PGIC_ANCHORS.items()),
                ],
                coerce=int,
                error_messages={"required": PGIC_REQUIRED, "invalid_choice": PGIC_RANGE},
                widget=forms.Select(attrs={"class": "form-select"}),
            )
        else:
            value = forms.IntegerField(
                label="ODI total (0–100 %)",
                error_messages={"invalid": WHOLE_NUMBER.format(what="the ODI total")},
                widget=forms.NumberInput(attrs={"min": low, "max": high, "step": 1, "class": "form-control"}),
            )
        # First, before the time and the procedure, as in the pain-score form.
        self.fields = {"value": value, **self.fields}
        _offer_discharged_procedures(self.fields["appointment"], patient, procedures)


class OutcomesFilterForm(forms.Form):
    """The dashboard's filters, from the address bar (the page, its CSV link). Every one is optional."""

    # Two selects of the whole catalogue and the physicians, drawn on every dashboard view: in Python.
    default_renderer = python_widget_renderer

    procedure_type = ListedModelChoiceField(
        label="Procedure type",
        queryset=ProcedureType.objects.order_by("name"),
        required=False,
        empty_label="All procedure types",
        error_messages={"invalid_choice": NO_SUCH_CHOICE.format(thing="procedure type")},
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    region = forms.ChoiceField(
        label="Spinal region",
        choices=[("", "All regions"), *SpinalRegion.choices],
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not a spinal region: choose one from the list."},
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    physician = ListedModelChoiceField(
        label="Physician",
        queryset=PhysicianProfile.objects.order_by("display_name"),
        required=False,
        empty_label="All physicians",
        error_messages={"invalid_choice": NO_SUCH_CHOICE.format(thing="physician")},
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    date_from = ClinicDateField(
        label="From",
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
        ),
    )
    date_to = ClinicDateField(
        label="To",
        required=False,
        widget=forms.DateInput(
            attrs={"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"
        ),
    )

    def clean(self):
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", RANGE_BACKWARDS.format(date_to=date_to, date_from=date_from))
        return data

    def dashboard_filters(self) -> dict:
        """The cleaned filters as outcomes_dashboard's arguments."""
        data = self.cleaned_data
        return {
            "procedure_type_id": data["procedure_type"].pk if data.get("procedure_type") else None,
            "region": data.get("region") or None,
            "physician_id": data["physician"].pk if data.get("physician") else None,
            "start": data.get("date_from"),
            "end": data.get("date_to"),
        }
