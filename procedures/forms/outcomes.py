"""The clinic pain-score form on the pain timeline. It only parses what was typed; the range and date rules
are the service's (procedures.services.outcomes), whose messages are shown next to the field."""

from django import forms
from django.utils import timezone

from procedures.forms.booking import ClinicDateTimeField
from procedures.models import Appointment, AppointmentStatus, Patient

WHOLE_NUMBER = "Enter {what} as a whole number."


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
        field = self.fields["appointment"]
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
