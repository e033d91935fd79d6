from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Fieldset, Layout, Row, Submit
from django import forms
from django.utils import timezone

from procedures.models import Patient
from procedures.models.patients import PATIENT_EDITABLE_FIELDS

US_TIME_ZONES = [
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Arizona (Phoenix, no daylight saving)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
]


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = PATIENT_EDITABLE_FIELDS
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}),
            "pain_started_on": forms.DateInput(attrs={"type": "date"}),
            "conservative_care_started_on": forms.DateInput(attrs={"type": "date"}),
            "allergy_notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The number is normalised in clean_phone first; the model's E.164 validator then checks the result.
        self.fields["phone"].validators = []
        self.fields["phone"].help_text = "Mobile for text reminders, e.g. (555) 010-2000 or +15550102000."
        # A list of zones, so nobody has to type "America/New_York"; a zone already on file stays selectable.
        zones = list(US_TIME_ZONES)
        current = self.initial.get("time_zone") or self.instance.time_zone
        if current and current not in dict(zones):
            zones.append((current, current))
        self.fields["time_zone"] = forms.ChoiceField(choices=zones, initial=current, label="Time zone")
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Fieldset(
                "Identity",
                Row(Column("mrn", css_class="col-md-3"), Column("first_name"), Column("last_name")),
                Row(Column("date_of_birth", css_class="col-md-3"), Column("language"), Column("time_zone")),
            ),
            Fieldset(
                "Contact and consent",
                Row(Column("phone"), Column("email"), Column("preferred_channel")),
                Row(Column("consent_sms"), Column("consent_email")),
            ),
            Fieldset(
                "Clinical flags",
                Row(
                    *[
                        Column(name, css_class="col-md-3")
                        for name in (
                            "diabetes",
                            "bleeding_disorder",
                            "severe_liver_disease",
                            "severe_kidney_disease",
                            "possible_pregnancy",
                            "allergy_contrast",
                            "allergy_local_anaesthetic",
                            "allergy_corticosteroid",
                            "allergy_latex",
                        )
                    ]
                ),
                "allergy_notes",
            ),
            Fieldset(
                "For coverage rules",
                Row(Column("pain_started_on"), Column("conservative_care_started_on")),
            ),
            Submit("save", "Save patient"),
            HTML('<a class="btn btn-link" href="{% url "patient-list" %}">Cancel</a>'),
        )

    def clean_mrn(self) -> str:
        return self.cleaned_data["mrn"].strip().upper()

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        if dob > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        return dob

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        digits = "".join(ch for ch in raw if ch.isdigit())
        if not raw:
            return ""
        # Accept the way clerks type US numbers: (555) 010-2000 → +15550102000.
        if not raw.startswith("+") and len(digits) == 10:
            return f"+1{digits}"
        return f"+{digits}" if raw.startswith("+") else raw

    def clean(self):
        data = super().clean()
        if data.get("consent_sms") and not data.get("phone"):
            self.add_error("phone", "Text-message consent needs a mobile number.")
        if data.get("consent_email") and not data.get("email"):
            self.add_error("email", "Email consent needs an email address.")
        return data
