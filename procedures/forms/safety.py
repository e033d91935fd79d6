"""Forms for the pre-procedure safety pages: they parse what was typed; the safety and medication services
decide (a missing reason, an aspirin without its indication, an INR above the limit) and their messages
are shown as they are."""

from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from procedures.forms.widgets import python_widget_renderer
from procedures.models import ClearanceStatus, DoseIntent, DrugClass, Indication, Medication
from procedures.selectors.intervals import fetch_rows_of

NO_SUCH_MEDICATION = "No medication with id “%(value)s”: choose one from the list."
CHOOSE_MEDICATION = "Choose the medication to add."
HOLD_AMOUNT_NEEDED = "Enter the new hold as a whole number of {unit} (0 = keep taking it)."
NOT_A_NUMBER = "“{value}” is not a number: enter it like 1.2."
ONE_DECIMAL = "“{value}”: enter the value with at most one decimal, e.g. 1.2."
NOT_A_CLEARANCE = "Choose Cleared or Refused."

DAYS, HOURS = "days", "hours"


class MedicationSelect(forms.Select):
    """A select whose options say whether the drug asks for its indication or dose intent, so the page
    shows those fields only when they matter (the service still checks)."""

    def __init__(self, *args, asks: dict[str, tuple[bool, bool]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.asks = asks or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        asks_indication, asks_dose_intent = self.asks.get(str(value), (False, False))
        if asks_indication:
            option["attrs"]["data-asks-indication"] = "true"
        if asks_dose_intent:
            option["attrs"]["data-asks-dose-intent"] = "true"
        return option


class _CatalogueEntry(NamedTuple):
    """What the medication select shows of a catalogue drug (the names are Medication's)."""

    pk: int
    generic_name: str
    brand_names: str
    drug_class: str
    asks_indication: bool
    asks_dose_intent: bool


def _active_catalogue() -> QuerySet:
    return Medication.objects.filter(active=True).values_list(*_CatalogueEntry._fields)


def _medication_choices(medications: list[_CatalogueEntry]) -> list:
    """Grouped by drug class, in the class order of DrugClass; brand names help the clerk find them."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for med in medications:
        label = f"{med.generic_name} ({med.brand_names})" if med.brand_names else med.generic_name
        groups.setdefault(med.drug_class, []).append((str(med.pk), label))
    return [("", "Choose a medication…")] + [
        (drug_class.label, groups[drug_class.value]) for drug_class in DrugClass if drug_class.value in groups
    ]


class MedicationAddForm(forms.Form):
    medication = forms.ChoiceField(
        label="Medication",
        error_messages={"required": CHOOSE_MEDICATION, "invalid_choice": NO_SUCH_MEDICATION},
    )
    indication = forms.ChoiceField(
        label="Why it is taken",
        required=False,
        choices=[("", "—"), *Indication.choices],
        help_text="Asked for aspirin: the hold depends on it.",
    )
    dose_intent = forms.ChoiceField(
        label="Dose",
        required=False,
        choices=[("", "—"), *DoseIntent.choices],
        help_text="Asked for heparins: the hold depends on it.",
    )
    dose = forms.CharField(
        label="Dose as taken",
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": "e.g. 5 mg once daily"}),
    )

    # Drawn on every patient page: the select is written in Python (same HTML as Django's templates).
    default_renderer = python_widget_renderer

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The select needs these columns of the catalogue; a posted choice is loaded whole when cleaned.
        catalogue = [_CatalogueEntry(*row) for row in fetch_rows_of(_active_catalogue)]
        field = self.fields["medication"]
        field.widget = MedicationSelect(
            asks={str(m.pk): (m.asks_indication, m.asks_dose_intent) for m in catalogue},
            attrs={"class": "form-select", "data-medication-select": ""},
        )
        # Set after the widget: the field passes its choices on to it.
        field.choices = _medication_choices(sorted(catalogue, key=lambda m: m.generic_name.lower()))

    def clean_medication(self) -> Medication:
        chosen = self.cleaned_data["medication"]
        try:
            return Medication.objects.get(pk=chosen, active=True)
        except Medication.DoesNotExist as exc:  # retired since the page was drawn
            raise ValidationError(
                NO_SUCH_MEDICATION, code="invalid_choice", params={"value": chosen}
            ) from exc


class HoldOverrideForm(forms.Form):
    """A physician's hold for one drug: an amount in days (day-based holds) or hours, and a reason."""

    amount = forms.IntegerField(label="New hold", min_value=0, required=False)
    unit = forms.ChoiceField(label="Unit", choices=[(DAYS, "days"), (HOURS, "hours")], initial=HOURS)
    reason = forms.CharField(label="Reason", required=False, max_length=300)

    def clean(self):
        data = super().clean()
        unit = data.get("unit") or HOURS
        if data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", HOLD_AMOUNT_NEEDED.format(unit=unit))
        elif "amount" in self.errors:
            self.errors["amount"] = self.error_class([HOLD_AMOUNT_NEEDED.format(unit=unit)])
        return data

    @property
    def hold_hours(self) -> int:
        amount = self.cleaned_data["amount"]
        return amount * 24 if self.cleaned_data["unit"] == DAYS else amount


class ClearanceForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(ClearanceStatus.CLEARED, "Cleared"), (ClearanceStatus.REFUSED, "Refused")],
        error_messages={"required": NOT_A_CLEARANCE, "invalid_choice": NOT_A_CLEARANCE},
    )
    note = forms.CharField(label="Note", required=False, max_length=300)


class ChecklistMarkForm(forms.Form):
    done = forms.TypedChoiceField(
        choices=[("1", "Done"), ("0", "Undo")],
        coerce=lambda v: v == "1",
        required=False,
        empty_value=True,  # a plain "Done" button
    )
    value = forms.CharField(required=False, max_length=10)
    note = forms.CharField(required=False, max_length=300)

    def clean_value(self) -> Decimal | None:
        raw = self.cleaned_data["value"].strip().replace(",", ".")
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise ValidationError(NOT_A_NUMBER.format(value=raw)) from exc
        if not value.is_finite() or abs(value) >= 100000:
            raise ValidationError(NOT_A_NUMBER.format(value=raw))
        # Never rounded: 1.54 rounded to 1.5 could pass a limit of 1.5 that the real value does not.
        if value != value.quantize(Decimal("0.1")):
            raise ValidationError(ONE_DECIMAL.format(value=raw))
        return value.quantize(Decimal("0.1"))


class OverrideReasonForm(forms.Form):
    """The reason a physician goes ahead; the service refuses an empty one with its own message."""

    reason = forms.CharField(label="Reason", required=False, max_length=400)
