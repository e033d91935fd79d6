from django import forms
from django.utils import timezone

from procedures.forms.booking import ClinicDateField, first_error
from procedures.selectors.schedule import BY_PHYSICIAN, BY_ROOM


class ScheduleDateForm(forms.Form):
    """`?date=YYYY-MM-DD&by=rooms` on the schedule pages. A bad date falls back to today, with a message."""

    date = ClinicDateField(required=False, label="Date")

    def day(self) -> date:
        if self.is_valid() and self.cleaned_data["date"]:
            return self.cleaned_data["date"]
        return timezone.localdate()

    def by_value(self) -> str:
        """Columns by room with `by=rooms`; anything else shows physicians."""
        return BY_ROOM if self.data.get("by") == BY_ROOM else BY_PHYSICIAN

    def problem(self) -> str:
        """The message to show when the address held a bad date ("" when it was fine)."""
        if self.is_valid():
            return ""
        return f"{first_error(self)} Showing today instead."
