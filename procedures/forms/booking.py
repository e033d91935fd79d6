"""Forms for the front desk's scheduling pages: reading a date from the address bar, searching for slots,
confirming a booking or a move, cancelling. They parse and check what was typed; the booking services
decide whether the time can be had, and their messages are shown on these forms."""

import re
from datetime import datetime, timedelta

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Field, Layout, Row, Submit
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.forms.utils import from_current_timezone
from django.http import Http404
from django.utils import timezone

from procedures.access import patient_get_for_user
from procedures.models import Patient, PhysicianProfile, ProcedureType, Side
from procedures.services.appointments import REASON_REQUIRED
from procedures.services.booking import BookingRequest

MAX_SEARCH_DAYS = 31
DEFAULT_SEARCH_DAYS = 7

NO_SUCH_DATE = "There is no such date as “{value}”."
NOT_A_DATE = "“{value}” is not a date: use YYYY-MM-DD, e.g. 2025-03-14."
NOT_A_TIME = "“{value}” is not a time: use HH:MM on the 24-hour clock, e.g. 09:30."
NOT_A_START = "“{value}” is not a date and time: use YYYY-MM-DDTHH:MM, e.g. 2025-03-14T09:30."
NO_SUCH_PATIENT = "No patient with id “{value}”. Search for the patient again."
NO_SUCH_CHOICE = "No {thing} with id “%(value)s”: choose one from the list."
RANGE_BACKWARDS = "The “to” date {date_to} is before the “from” date {date_from}."
RANGE_TOO_LONG = "Search at most {days} days at a time."
RANGE_IN_PAST = "{date_to} is in the past: search from today on."
CHOOSE_PROCEDURE = "Choose the procedure to book."
CHOOSE_PHYSICIAN = "Choose the physician."
CANCEL_REASON_REQUIRED = REASON_REQUIRED.format(action="cancel")

_DATE_SHAPE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_DATE_WIDGET = {"type": "date"}


class ClinicDateField(forms.DateField):
    """A calendar date typed as YYYY-MM-DD (what date pickers send), with a message naming what was wrong."""

    widget = forms.DateInput(attrs=_DATE_WIDGET, format="%Y-%m-%d")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d", "%m/%d/%Y"])
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            text = str(value).strip()
            message = NO_SUCH_DATE if _DATE_SHAPE.match(text) else NOT_A_DATE
            raise ValidationError(message.format(value=text), code="invalid") from exc


class ClinicTimeField(forms.TimeField):
    widget = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            raise ValidationError(NOT_A_TIME.format(value=str(value).strip()), code="invalid") from exc


class ClinicDateTimeField(forms.DateTimeField):
    """A local date and time such as 2025-03-14T09:30, read in the clinic's zone."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            if exc.code != "invalid":
                raise  # e.g. a time that does not exist on a daylight-saving change: Django names it
            raise ValidationError(NOT_A_START.format(value=str(value).strip()), code="invalid") from exc


class _ListedChoices(forms.models.ModelChoiceIterator):
    """The choices in one plain read: Django's iterator() opens a server-side cursor for them (DECLARE,
    FETCH, CLOSE: three round trips) to stream what is a few dozen physicians, rooms or procedures."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class ListedModelChoiceField(forms.ModelChoiceField):
    iterator = _ListedChoices


def model_choice(*, queryset, thing: str, **kwargs) -> forms.ModelChoiceField:
    return ListedModelChoiceField(
        queryset=queryset,
        error_messages={
            "invalid_choice": NO_SUCH_CHOICE.format(thing=thing),
            "required": kwargs.pop("required_message", "This field is required."),
        },
        **kwargs,
    )


def active_physicians():
    return PhysicianProfile.objects.filter(active=True).order_by("display_name")


def active_procedure_types():
    return ProcedureType.objects.filter(active=True).order_by("name")


class PatientIdField(forms.IntegerField):
    """A patient chosen earlier in the flow, carried by id and fetched through the access helper."""

    widget = forms.HiddenInput

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as exc:
            raise ValidationError(NO_SUCH_PATIENT.format(value=str(value).strip()), code="invalid") from exc


def patient_from_id(*, form: forms.Form, user: AbstractBaseUser) -> Patient | None:
    raw = form.data.get(form.add_prefix("patient"), "")
    patient_id = form.cleaned_data.get("patient")
    if patient_id is None:
        return None
    try:
        return patient_get_for_user(user=user, patient_id=patient_id)
    except Http404 as exc:
        raise ValidationError(NO_SUCH_PATIENT.format(value=raw), code="invalid_choice") from exc


def first_error(form: forms.Form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return ""


class _SlotRangeForm(forms.Form):
    """The dates and physician to search. Missing dates default to the day of the clicked start (from the
    day view), else to the next week; the page then shows the dates actually searched."""

    physician = model_choice(
        queryset=active_physicians(), thing="physician", required=False, empty_label="Any physician"
    )
    date_from = ClinicDateField(required=False, label="From")
    date_to = ClinicDateField(required=False, label="To")
    start = ClinicDateTimeField(required=False)

    def __init__(self, data=None, *, user: AbstractBaseUser, **kwargs):
        self.user = user
        super().__init__(data.copy() if data is not None else None, **kwargs)
        self.fields["physician"].queryset = active_physicians()

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        start: datetime | None = data.get("start")
        if "date_from" in data and "date_to" in data:
            date_from = data["date_from"] or (timezone.localdate(start) if start else today)
            date_to = data["date_to"] or (
                date_from if start else date_from + timedelta(days=DEFAULT_SEARCH_DAYS - 1)
            )
            if date_to < date_from:
                self.add_error("date_to", RANGE_BACKWARDS.format(date_to=date_to, date_from=date_from))
            elif date_to < today:
                self.add_error("date_to", RANGE_IN_PAST.format(date_to=date_to))
            elif (date_to - max(date_from, today)).days >= MAX_SEARCH_DAYS:
                self.add_error("date_to", RANGE_TOO_LONG.format(days=MAX_SEARCH_DAYS))
            else:
                date_from = max(date_from, today)
                data["date_from"], data["date_to"] = date_from, date_to
                # Show the dates actually searched in the form.
                self.data[self.add_prefix("date_from")] = date_from.isoformat()
                self.data[self.add_prefix("date_to")] = date_to.isoformat()
        return data


class SlotSearchForm(_SlotRangeForm):
    """`/appointments/new/?patient=&procedure_type=&physician=&start=&date_from=&date_to=&sedated=`."""

    patient = PatientIdField(required=False)
    procedure_type = model_choice(
        queryset=active_procedure_types(),
        thing="procedure type",
        required=False,
        empty_label="Choose the procedure…",
    )
    sedated = forms.BooleanField(required=False, label="With sedation (longer recovery)")

    field_order = ["patient", "procedure_type", "physician", "date_from", "date_to", "sedated", "start"]

    def __init__(self, data=None, *, user: AbstractBaseUser, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["procedure_type"].queryset = active_procedure_types()
        self.fields["procedure_type"].label = "Procedure"
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "patient",
            "start",
            Row(
                Column(Field("procedure_type", css_class="form-select-lg"), css_class="col-lg-4"),
                Column("physician", css_class="col-lg-3"),
                Column("date_from", css_class="col-sm-6 col-lg-2"),
                Column("date_to", css_class="col-sm-6 col-lg-2"),
            ),
            "sedated",
        )

    def clean_patient(self) -> Patient | None:
        return patient_from_id(form=self, user=self.user)

    def clean(self):
        data = super().clean()
        if self.data.get("find") and not data.get("procedure_type") and "procedure_type" not in self.errors:
            self.add_error("procedure_type", CHOOSE_PROCEDURE)
        return data

    def ready(self) -> bool:
        """Valid, with the patient and procedure known: slots can be searched."""
        return self.is_valid() and bool(
            self.cleaned_data.get("patient") and self.cleaned_data.get("procedure_type")
        )


class RescheduleSearchForm(_SlotRangeForm):
    """`/appointments/<id>/reschedule/?physician=&date_from=&date_to=`. Without a physician in the address
    the search starts with the appointment's own physician ("Any physician" widens it)."""

    def __init__(
        self,
        data=None,
        *,
        user: AbstractBaseUser,
        default_physician: PhysicianProfile | None = None,
        **kwargs,
    ):
        super().__init__(data, user=user, **kwargs)
        if self.is_bound and default_physician is not None and "physician" not in self.data:
            self.data["physician"] = str(default_physician.pk)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            "start",
            Row(
                Column("physician", css_class="col-lg-4"),
                Column("date_from", css_class="col-sm-6 col-lg-3"),
                Column("date_to", css_class="col-sm-6 col-lg-3"),
            ),
        )


class _StartForm(forms.Form):
    """A physician, a date and a time, read in the clinic's zone; and, for those allowed, a reason to
    double-book the physician on purpose."""

    physician = model_choice(
        queryset=active_physicians(), thing="physician", required_message=CHOOSE_PHYSICIAN, empty_label=None
    )
    start_date = ClinicDateField(label="Date")
    start_time = ClinicTimeField(label="Time")
    overbook_reason = forms.CharField(
        required=False,
        max_length=300,
        label="Double-book on purpose: reason",
        help_text="Only to book over another of the physician's bookings, knowingly. Leave empty otherwise.",
    )

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["physician"].queryset = active_physicians()
        self.may_overbook = user.has_perm("procedures.overbook_physician")
        if not self.may_overbook:
            del self.fields["overbook_reason"]

    def clean(self):
        data = super().clean()
        if data.get("start_date") and data.get("start_time"):
            try:
                data["start"] = from_current_timezone(
                    datetime.combine(data["start_date"], data["start_time"])
                )
            except ValidationError as exc:
                self.add_error("start_time", exc)
        data.setdefault("overbook_reason", "")
        return data

    @staticmethod
    def initial_from(*, start: datetime | None, physician: PhysicianProfile | None) -> dict:
        initial: dict = {}
        if start is not None:
            local = timezone.localtime(start)
            initial.update(start_date=local.date(), start_time=local.time())
        if physician is not None:
            initial["physician"] = physician
        return initial


class BookingForm(_StartForm):
    """The confirm step: what the slot search chose, editable, plus the clinical details of the booking."""

    patient = PatientIdField()
    procedure_type = model_choice(
        queryset=active_procedure_types(),
        thing="procedure type",
        widget=forms.HiddenInput,
        required_message=CHOOSE_PROCEDURE,
    )
    sedated = forms.BooleanField(required=False, label="With sedation (longer recovery)")
    side = forms.ChoiceField(choices=Side.choices, initial=Side.MIDLINE)
    levels = forms.CharField(required=False, max_length=60, help_text="e.g. L4-L5, L5-S1")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["procedure_type"].queryset = active_procedure_types()
        self.helper = FormHelper()
        self.helper.form_tag = False
        # Every problem is listed in one alert above the form (the page's _form_errors.html); crispy only
        # outlines the fields concerned in red.
        self.helper.form_show_errors = False
        self.helper.layout = Layout(
            "patient",
            "procedure_type",
            Row(
                Column(Field("physician", css_class="form-select-lg"), css_class="col-md-4"),
                Column(Field("start_date", css_class="form-control-lg"), css_class="col-sm-6 col-md-4"),
                Column(Field("start_time", css_class="form-control-lg"), css_class="col-sm-6 col-md-4"),
            ),
            Row(Column("side", css_class="col-md-4"), Column("levels", css_class="col-md-4")),
            "sedated",
            "notes",
            *(["overbook_reason"] if self.may_overbook else []),
        )

    def clean_patient(self) -> Patient | None:
        return patient_from_id(form=self, user=self.user)

    def booking_request(self) -> BookingRequest:
        data = self.cleaned_data
        return BookingRequest(
            patient=data["patient"],
            procedure_type=data["procedure_type"],
            physician=data["physician"],
            start=data["start"],
            sedated=data["sedated"],
            side=data["side"],
            levels=data["levels"],
            notes=data["notes"],
            overbook_reason=data["overbook_reason"],
        )


class RescheduleForm(_StartForm):
    def __init__(self, *args, user: AbstractBaseUser, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.form_show_errors = False  # listed above the form, as for BookingForm
        self.helper.layout = Layout(
            Row(
                Column(Field("physician", css_class="form-select-lg"), css_class="col-md-4"),
                Column(Field("start_date", css_class="form-control-lg"), css_class="col-sm-6 col-md-4"),
                Column(Field("start_time", css_class="form-control-lg"), css_class="col-sm-6 col-md-4"),
            ),
            *(["overbook_reason"] if self.may_overbook else []),
            Submit("move", "Move appointment", css_class="btn-lg"),
        )


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Reason for cancelling",
        error_messages={"required": CANCEL_REASON_REQUIRED},
        widget=forms.TextInput(attrs={"list": "cancel-reasons", "autocomplete": "off"}),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(CANCEL_REASON_REQUIRED)
        return reason
