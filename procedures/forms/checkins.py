"""The patient's check-in form (big choices a thumb can hit) and the staff call-list note."""

from django import forms

from procedures.models import PGIC_ANCHORS
from procedures.rules import patient_text
from procedures.services.checkins import (
    INTERFERENCE_RANGE,
    OUTCOME_REQUIRED,
    PAIN_RANGE,
    PGIC_ANSWER,
    RED_FLAG_ANSWER,
    RELIEF_RANGE,
    CheckInAnswers,
)

YES_NO = [("no", "No"), ("yes", "Yes")]


def _scale(low: int, high: int, step: int = 1) -> list[tuple[str, str]]:
    return [(str(value), str(value)) for value in range(low, high + 1, step)]


class CheckInForm(forms.Form):
    pain_now = forms.TypedChoiceField(
        label="How bad is your pain right now?",
        help_text="0 means no pain, 10 means the worst pain you can imagine.",
        choices=_scale(0, 10),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": PAIN_RANGE, "invalid_choice": PAIN_RANGE},
    )
    percent_relief = forms.TypedChoiceField(
        label="How much better is your usual pain since the procedure?",
        help_text="0 % means no better at all, 100 % means the pain is completely gone.",
        choices=_scale(0, 100, 10),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": RELIEF_RANGE, "invalid_choice": RELIEF_RANGE.replace("%", "%%")},
    )
    activity_interference = forms.TypedChoiceField(
        label="How much does pain limit your daily activities?",
        help_text="0 means not at all, 10 means you cannot do your usual activities.",
        choices=_scale(0, 10),
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": INTERFERENCE_RANGE, "invalid_choice": INTERFERENCE_RANGE},
    )
    side_effects = forms.MultipleChoiceField(
        label="Since the procedure, have you had any of these? (tick any that apply)",
        choices=list(patient_text.SIDE_EFFECTS.items()),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        required=False,
        error_messages={"invalid_choice": "That answer is not one of the choices."},
    )
    side_effects_other = forms.CharField(
        label="Anything else you want to tell us? (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, ask_pgic: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if ask_pgic:
            # The PGIC item as published (models/instruments.py), "the start of the study" read as the
            # procedure; the seven answers in words only, in the published order, so the scale is not
            # changed by what the page shows.
            self.fields["pgic"] = forms.TypedChoiceField(
                label="Since the procedure, my overall status is:",
                help_text="Choose the answer that fits best.",
                choices=[(str(value), label) for value, label in PGIC_ANCHORS.items()],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": PGIC_ANSWER, "invalid_choice": PGIC_ANSWER},
            )
        for code, question in patient_text.RED_FLAG_QUESTIONS.items():
            self.fields[f"flag_{code}"] = forms.ChoiceField(
                label=question,
                choices=YES_NO,
                widget=forms.RadioSelect,
                error_messages={"required": RED_FLAG_ANSWER, "invalid_choice": RED_FLAG_ANSWER},
            )

    def red_flag_fields(self):
        return [self[f"flag_{code}"] for code in patient_text.RED_FLAG_QUESTIONS]

    def answers(self) -> CheckInAnswers:
        data = self.cleaned_data
        return CheckInAnswers(
            pain_now=data["pain_now"],
            percent_relief=data["percent_relief"],
            activity_interference=data["activity_interference"],
            red_flags={code: data[f"flag_{code}"] == "yes" for code in patient_text.RED_FLAG_QUESTIONS},
            side_effects=data["side_effects"],
            side_effects_other=data["side_effects_other"],
            pgic=data.get("pgic"),
        )


class CallResolveForm(forms.Form):
    outcome = forms.CharField(max_length=500, min_length=3, error_messages={"required": OUTCOME_REQUIRED})
