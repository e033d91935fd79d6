"""The Python widget renderer (procedures/forms/widgets.py) writes exactly what Django's widget templates
write, and hands anything it does not draw itself back to them."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from procedures.forms.safety import MedicationSelect
from procedures.forms.widgets import PythonWidgetRenderer

DJANGO = DjangoTemplates()
PYTHON = PythonWidgetRenderer()

CHOICES = [
    ("", "— none —"),
    ("1", "2026-01-05 Lumbar TFESI L4-L5 (left)"),
    (2, '<b>Tom & Jerry\'s</b> "quoted"'),
    ("3", mark_safe("<i>safe</i>")),
    ("4", gettext_lazy("Lazy label")),
]
GROUPED = [
    ("", "Choose a medication…"),
    ("Anticoagulants", [("10", "apixaban (Eliquis)"), ("11", "warfarin (Coumadin)")]),
    ("NSAIDs", [("12", "ibuprofen")]),
]


class Everything(forms.Form):
    text = forms.CharField(
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": 'a "b" <c>'})
    )
    number = forms.IntegerField(
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": 10, "step": 1, "class": "form-control"}),
    )
    when = forms.DateTimeField(
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "class": "form-control"}, format="%Y-%m-%dT%H:%M"
        )
    )
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    hidden = forms.CharField(widget=forms.HiddenInput)
    flags = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"readonly": True, "autofocus": False, "data-x": ""})
    )
    plain = forms.ChoiceField(
        choices=CHOICES, required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    grouped = forms.ChoiceField(choices=GROUPED)
    numbers = forms.TypedChoiceField(choices=[(1, 1), (2, 2)], coerce=int)  # int labels: Django's to format
    medication = forms.ChoiceField(
        choices=GROUPED,
        widget=MedicationSelect(
            choices=GROUPED,
            asks={"11": (True, False), "12": (False, True)},
            attrs={"data-medication-select": ""},
        ),
    )


def _fields(form: forms.Form) -> list[str]:
    return [str(bound) for bound in form]


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {
            "text": "x & <y>",
            "number": "7",
            "when": "2026-01-05T09:30",
            "day": "2026-01-05",
            "hidden": '"h"',
            "plain": "2",
            "grouped": "11",
            "numbers": "2",
            "medication": "12",
        },
        {"number": "abc", "plain": "99", "grouped": "nope", "when": "soon", "medication": "11"},
    ],
)
def test_the_python_renderer_writes_what_the_templates_write(data):
    initial = {"text": "initial", "plain": "1", "day": "2026-02-03"}
    expected = Everything(data, initial=initial, renderer=DJANGO)
    drawn = Everything(data, initial=initial, renderer=PYTHON)
    if data is not None:
        expected.is_valid(), drawn.is_valid()  # errors add aria-invalid to the widgets
    assert _fields(drawn) == _fields(expected)


def test_other_widgets_still_go_through_the_templates():
    class Other(forms.Form):
        box = forms.BooleanField(required=False)
        note = forms.CharField(widget=forms.Textarea)
        many = forms.MultipleChoiceField(choices=GROUPED[1:], widget=forms.CheckboxSelectMultiple)

    assert _fields(Other(renderer=PYTHON)) == _fields(Other(renderer=DJANGO))


def test_inputs_and_selects_are_drawn_without_a_template():
    class NoTemplates(PythonWidgetRenderer):
        def get_template(self, template_name):
            raise AssertionError(f"{template_name} went through the templates")

    data = {"plain": "<>", "number": "x"}
    drawn, expected = Everything(data, renderer=NoTemplates()), Everything(data, renderer=DJANGO)
    drawn.is_valid(), expected.is_valid()
    names = [name for name in Everything.base_fields if name != "numbers"]  # int labels: the templates'
    assert [str(drawn[name]) for name in names] == [str(expected[name]) for name in names]


@pytest.mark.django_db
def test_the_dashboard_filters_draw_their_lists_as_the_templates_do_in_one_plain_read_each(clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from procedures.forms.outcomes import OutcomesFilterForm

    physician = clinic["lee"]
    for data in ({}, {"physician": str(physician.pk), "region": "lumbar"}, {"physician": "nobody"}):
        expected = OutcomesFilterForm(data, renderer=DJANGO)
        expected.is_valid()
        drawn = OutcomesFilterForm(data)
        drawn.is_valid()
        with CaptureQueriesContext(connection) as queries:
            fields = _fields(drawn)
        assert fields == _fields(expected)
        assert f'<option value="{physician.pk}"' in str(drawn["physician"])
        # The physicians and the procedure types: one SELECT each, no server-side cursor to declare.
        assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "SELECT"]
