"""The clinic pain-score and instrument forms on the pain timeline, and the outcomes dashboard's filters.
The pain-score form only parses what was typed; the range and date rules are the service's
(procedures.services.outcomes), whose messages are shown next to the field."""

from django import forms
from django.utils import timezone

from procedures.forms.booking import NO_SUCH_CHOICE, RANGE_BACKWARDS, ClinicDateField, ClinicDateTimeField
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


class PainScoreForm(forms.Form):
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
    appointment = forms.ModelChoiceField(
        label="After procedure",
        queryset=Appointment.objects.none(),
        required=False,
        empty_label="— none —",
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, patient: Patient, **kwargs) -> None:
        kwargs.setdefault("initial", {"recorded_at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(*args, **kwargs)
        _offer_discharged_procedures(self.fields["appointment"], patient)


class InstrumentScoreForm(forms.Form):
    """A clinic entry of one optional instrument (the page shows one form per instrument the clinic
    collects, each with its instrument's prefix). Like the pain-score form it only parses: the range, the
    setting and the date rules are procedures.services.instruments'."""

    recorded_at = ClinicDateTimeField(
        label="When",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    appointment = forms.ModelChoiceField(
        label="After procedure",
        queryset=Appointment.objects.none(),
        required=False,
        empty_label="— none —",
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, patient: Patient, instrument: str, **kwargs) -> None:
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
        _offer_discharged_procedures(self.fields["appointment"], patient)


def _offer_discharged_procedures(field: forms.ModelChoiceField, patient: Patient) -> None:
    field.queryset = (
        Appointment.objects.filter(patient=patient, status=AppointmentStatus.DISCHARGED)
        .select_related("procedure_type")
        .order_by("-start")
    )
    field.label_from_instance = lambda a: (
        f"{timezone.localtime(a.start):%Y-%m-%d} {a.procedure_type.name}"
        + (f" {a.levels}" if a.levels else "")
        + (f" ({a.get_side_display().lower()})" if a.side != "midline" else "")
    )


class OutcomesFilterForm(forms.Form):
    """The dashboard's filters, from the address bar (the page, its CSV link). Every one is optional."""

    procedure_type = forms.ModelChoiceField(
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
    physician = forms.ModelChoiceField(
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
