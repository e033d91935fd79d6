"""Forms for the day-of pages: check-in, the procedure record, recovery observations, discharge and the
post-block diary. They parse what was typed (a clock time on today's date, whole numbers); the day-of
services decide whether the step is possible and say why not, and their messages are shown as they are."""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import from_current_timezone
from django.utils import timezone

from procedures.forms.booking import ClinicDateField, ClinicTimeField
from procedures.models import (
    Appointment,
    DiarySource,
    ImagingUsed,
    LegStrength,
    Numbness,
    ProcedureRecord,
    Side,
    SteroidProduct,
)
from procedures.models.dayof import RECORD_DETAIL_FIELDS

DOB_NEEDED = "Type the date of birth the patient gives."
WHOLE_NUMBER = "Enter {what} as a whole number."
NUMBER_NEEDED = "Enter {what}."
# The database's plausibility bounds (procedures.models.dayof.VitalsEntry), with a message a nurse can act on.
VITALS_RANGE = "{what} {value} looks like a typing error: enter a value from {low} to {high}."
VITALS_BOUNDS = {
    "systolic": ("Systolic pressure", 40, 300),
    "diastolic": ("Diastolic pressure", 20, 200),
    "heart_rate": ("Heart rate", 20, 250),
    "spo2": ("SpO₂", 50, 100),
}
STEROID_WITHOUT_CHOICE = "Choose which steroid the {dose} mg dose was."
NOT_A_DOSE = "“{value}” is not a dose: enter it in mg, like 10 or 7.5."
CONTRAST_NOT_A_NUMBER = "Enter the contrast volume in mL with at most one decimal, like 1.5."

_LARGE = {"class": "form-control form-control-lg"}
_NUMBER = {"class": "form-control form-control-lg", "inputmode": "numeric", "autocomplete": "off"}


def at_today(value) -> datetime | None:
    """A clock time typed on the day-of pages, on today's date in the clinic's zone."""
    if value is None:
        return None
    return from_current_timezone(datetime.combine(timezone.localdate(), value))


def now_clock() -> str:
    return timezone.localtime().strftime("%H:%M")


class TodayTimeField(ClinicTimeField):
    """A clock time today (HH:MM); the page fills in the current time and keeps it current. Empty, or the
    current minute, means now to the second: a step charted a few seconds after the previous one (check-in,
    then the start) is never "before" it because the clock shows whole minutes."""

    widget = forms.TimeInput(attrs={**_LARGE, "type": "time", "data-default-now": ""}, format="%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, value):
        parsed = super().clean(value)
        now = timezone.now()
        if parsed is None:
            return now
        try:
            moment = at_today(parsed)
        except ValidationError as exc:  # a clock time skipped by a daylight-saving change
            raise ValidationError(str(exc.messages[0]), code="invalid") from exc
        return now if moment <= now < moment + timedelta(minutes=1) else moment


class WholeNumberField(forms.IntegerField):
    """A whole number; ranges are the service's (or the form's clean) to explain."""

    def __init__(self, *, what: str, required: bool = True, **kwargs):
        kwargs.setdefault("widget", forms.NumberInput(attrs=_NUMBER))
        super().__init__(
            required=required,
            error_messages={
                "required": NUMBER_NEEDED.format(what=what),
                "invalid": WHOLE_NUMBER.format(what=what),
            },
            **kwargs,
        )


# --- Check-in --------------------------------------------------------------------------------------------


class CheckInForm(forms.Form):
    """Identity two ways: the patient says their full name (ticked) and gives their date of birth (typed;
    the record's is never shown next to it, so it cannot be copied)."""

    name_confirmed = forms.BooleanField(required=False, label="The patient said their full name")
    date_of_birth = ClinicDateField(
        label="Date of birth, as the patient says it",
        required=True,
        error_messages={"required": DOB_NEEDED},
    )

    def __init__(self, *args, appointment: Appointment, **kwargs):
        kwargs.setdefault("auto_id", f"checkin-{appointment.pk}-%s")
        super().__init__(*args, **kwargs)
        self.appointment = appointment


# --- The procedure ---------------------------------------------------------------------------------------


class ProcedureStartForm(forms.Form):
    baseline_pain = WholeNumberField(what="the pain score", required=False, label="Pain just before (0–10)")
    at = TodayTimeField(label="Start time")


class ProcedureFinishForm(forms.Form):
    ended_at = TodayTimeField(label="End time")
    baseline_pain = WholeNumberField(what="the pain score", required=False, label="Pain just before (0–10)")
    levels = forms.CharField(required=False, max_length=60, label="Levels", widget=forms.TextInput(_LARGE))
    side = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Side.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )
    approach = forms.CharField(
        required=False,
        max_length=60,
        widget=forms.TextInput(attrs={**_LARGE, "list": "approaches", "autocomplete": "off"}),
    )
    imaging_used = forms.ChoiceField(
        label="Imaging",
        required=False,
        choices=[("", "—"), *ImagingUsed.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )
    contrast_ml = forms.DecimalField(
        label="Contrast (mL)",
        required=False,
        max_digits=5,
        decimal_places=1,
        min_value=0,
        widget=forms.TextInput(attrs={**_LARGE, "inputmode": "decimal", "autocomplete": "off"}),
        error_messages={
            key: CONTRAST_NOT_A_NUMBER
            for key in ("invalid", "min_value", "max_digits", "max_decimal_places", "max_whole_digits")
        },
    )
    local_anaesthetic = forms.CharField(
        required=False,
        max_length=80,
        label="Local anaesthetic",
        widget=forms.TextInput(attrs={**_LARGE, "placeholder": "e.g. lidocaine 1% 3 mL"}),
    )
    sedation_given = forms.BooleanField(required=False, label="Sedation given")
    sedation_agent = forms.CharField(
        required=False,
        max_length=80,
        label="Sedation agent and dose",
        widget=forms.TextInput(attrs={**_LARGE, "placeholder": "e.g. midazolam 2 mg IV"}),
    )
    complications = forms.CharField(
        required=False,
        label="Complications",
        help_text="Leave empty when there were none.",
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}))

    DETAIL_FIELDS = RECORD_DETAIL_FIELDS

    def details(self) -> dict:
        data = self.cleaned_data
        details = {name: data[name] for name in self.DETAIL_FIELDS}
        for name in ("levels", "approach", "local_anaesthetic", "sedation_agent", "complications", "notes"):
            details[name] = details[name].strip()
        return details

    @staticmethod
    def initial_for(*, appointment: Appointment, record: ProcedureRecord | None) -> dict:
        imaging = appointment.procedure_type.imaging
        return {
            "ended_at": now_clock(),
            "baseline_pain": record.baseline_pain if record else None,
            "levels": appointment.levels,
            "side": appointment.side,
            "imaging_used": imaging if imaging in ImagingUsed.values else "",
            "sedation_given": appointment.sedation_planned,
        }


class SteroidChoiceField(forms.ModelChoiceField):
    """Each steroid with its per-session ceiling, so the physician sees it before charting the dose."""

    def label_from_instance(self, obj: SteroidProduct) -> str:
        if obj.session_ceiling_mg is None:
            return obj.name
        return f"{obj.name} (up to {float(obj.session_ceiling_mg):g} mg a session)"


class SteroidRowForm(forms.Form):
    steroid = SteroidChoiceField(
        queryset=SteroidProduct.objects.none(),
        required=False,
        empty_label="No steroid",
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
        error_messages={"invalid_choice": "Choose a steroid from the list."},
    )
    dose_mg = forms.CharField(
        label="Dose (mg)",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={**_LARGE, "inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["steroid"].queryset = SteroidProduct.objects.order_by("name")

    def clean_dose_mg(self):
        raw = self.cleaned_data["dose_mg"].strip().replace(",", ".")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise ValidationError(NOT_A_DOSE.format(value=raw)) from exc
        if not value.is_finite() or abs(value) >= 10000:
            raise ValidationError(NOT_A_DOSE.format(value=raw))
        return value

    def clean(self):
        data = super().clean()
        if data.get("dose_mg") is not None and not data.get("steroid") and "steroid" not in self.errors:
            self.add_error("steroid", STEROID_WITHOUT_CHOICE.format(dose=data["dose_mg"]))
        return data


SteroidFormSet = forms.formset_factory(SteroidRowForm, extra=2, max_num=4)


def steroid_rows(formset) -> list:
    """(steroid, dose) for every row with a steroid chosen; a missing dose is the service's to refuse."""
    return [
        (form.cleaned_data["steroid"], form.cleaned_data.get("dose_mg"))
        for form in formset.forms
        if form.cleaned_data.get("steroid")
    ]


# --- Recovery ---------------------------------------------------------------------------------------------


class VitalsForm(forms.Form):
    systolic = WholeNumberField(what="the systolic pressure (upper number)", label="BP systolic")
    diastolic = WholeNumberField(what="the diastolic pressure (lower number)", label="BP diastolic")
    heart_rate = WholeNumberField(what="the heart rate", label="Heart rate")
    spo2 = WholeNumberField(what="the SpO₂", label="SpO₂ %")
    pain = WholeNumberField(what="the pain score (0–10)", label="Pain 0–10")
    leg_strength = forms.ChoiceField(
        choices=LegStrength.choices, initial=LegStrength.NORMAL, label="Leg strength"
    )
    numbness = forms.ChoiceField(choices=Numbness.choices, initial=Numbness.NONE, label="Numbness")
    taken_at = TodayTimeField(label="Taken at")
    note = forms.CharField(required=False, max_length=300)

    def __init__(self, *args, appointment: Appointment, **kwargs):
        kwargs.setdefault("auto_id", f"vitals-{appointment.pk}-%s")
        kwargs.setdefault("initial", {"taken_at": now_clock()})
        super().__init__(*args, **kwargs)
        self.appointment = appointment

    def clean(self):
        data = super().clean()
        for name, (what, low, high) in VITALS_BOUNDS.items():
            value = data.get(name)
            if value is not None and not low <= value <= high:
                self.add_error(name, VITALS_RANGE.format(what=what, value=value, low=low, high=high))
        return data


# --- Discharge --------------------------------------------------------------------------------------------


class DischargeForm(forms.Form):
    vitals_stable = forms.BooleanField(required=False, label="Vital signs stable and back to baseline")
    walks_safely = forms.BooleanField(required=False, label="Walks safely without help")
    pain_controlled = forms.BooleanField(required=False, label="Pain controlled")
    escort_present = forms.BooleanField(
        required=False, label="Alert, and the escort who takes the patient home is here"
    )
    at = TodayTimeField(label="Discharge time")
    early_reason = forms.CharField(
        required=False,
        max_length=300,
        label="Reason for discharging before the minimum observation time",
        widget=forms.TextInput(attrs={**_LARGE, "autocomplete": "off"}),
    )

    def __init__(self, *args, sedated: bool, **kwargs):
        kwargs.setdefault("initial", {"at": now_clock()})
        super().__init__(*args, **kwargs)
        self.sedated = sedated
        if not sedated:
            del self.fields["escort_present"]


# --- Post-block diary ---------------------------------------------------------------------------------------


class DiaryRowForm(forms.Form):
    minutes_after = forms.IntegerField(widget=forms.HiddenInput)
    pain = WholeNumberField(what="the pain score (0–10)", label="Pain 0–10")
    relief_percent = WholeNumberField(what="the relief in %", label="Relief %")
    source = forms.ChoiceField(
        choices=DiarySource.choices,
        initial=DiarySource.NURSE,
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )

    def __init__(self, *args, minutes: int, **kwargs):
        kwargs.setdefault("auto_id", f"diary-{minutes}-%s")
        super().__init__(*args, **kwargs)
        self.minutes = minutes
