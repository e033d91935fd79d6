"""Putting a patient on the waitlist for an earlier date."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.http import Http404

from procedures.access import appointment_get_for_user
from procedures.forms.booking import (
    PatientIdField,
    active_physicians,
    active_procedure_types,
    model_choice,
    patient_from_id,
)
from procedures.models import Appointment, Patient

NO_SUCH_APPOINTMENT = "No appointment with id “{value}”."
NOT_THEIR_APPOINTMENT = "That appointment belongs to another patient."


class WaitlistAddForm(forms.Form):
    patient = PatientIdField()
    appointment = forms.CharField(required=False, widget=forms.HiddenInput)
    procedure_type = model_choice(
        queryset=active_procedure_types(),
        thing="procedure type",
        required_message="Choose the procedure they are waiting for.",
    )
    physician = model_choice(
        queryset=active_physicians(),
        thing="physician",
        required=False,
        empty_label="Any physician",
        help_text="Offers come only from this physician's freed time when one is chosen.",
    )
    notes = forms.CharField(
        required=False,
        max_length=300,
        help_text="e.g. can come at short notice, mornings only.",
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["procedure_type"].queryset = active_procedure_types()
        self.fields["procedure_type"].label = "Procedure"
        self.fields["physician"].queryset = active_physicians()
        self.helper = FormHelper()
        self.helper.layout = Layout(
            "patient",
            "appointment",
            Row(Column("procedure_type", css_class="col-md-6"), Column("physician", css_class="col-md-6")),
            "notes",
            Submit("add", "Add to waitlist", css_class="btn-lg"),
        )

    def clean_patient(self) -> Patient | None:
        return patient_from_id(form=self, user=self.user)

    def clean_appointment(self) -> Appointment | None:
        raw = self.cleaned_data["appointment"].strip()
        if not raw:
            return None
        try:
            return appointment_get_for_user(user=self.user, appointment_id=int(raw))
        except (ValueError, Http404) as exc:
            raise ValidationError(NO_SUCH_APPOINTMENT.format(value=raw), code="invalid_choice") from exc

    def clean(self):
        data = super().clean()
        patient, appointment = data.get("patient"), data.get("appointment")
        if patient is not None and appointment is not None and appointment.patient_id != patient.pk:
            self.add_error("appointment", NOT_THEIR_APPOINTMENT)
        return data
