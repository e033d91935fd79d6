"""A form renderer that draws the plain input and select widgets in Python.

Django draws every widget through its templates: an input is two template renders, a select one more per
option, each with its own context (about 0.1 ms apiece). On pages drawn hundreds of times a minute (the
patient page, the pain timeline) that was a tenth of the request. This renderer writes the same HTML,
byte for byte, as django/forms/templates/django/forms/widgets/{input,select,select_option,attrs}.html; any
other template, or a value those templates would format differently (a number or date as an option label),
goes to Django's templates as before. tests/test_form_widgets.py holds it to Django's output."""

from django.forms.renderers import DjangoTemplates
from django.utils.functional import Promise
from django.utils.html import conditional_escape

_INPUT_TEMPLATES = {
    f"django/forms/widgets/{name}.html"
    for name in ("input", "text", "number", "email", "url", "password", "hidden", "date", "datetime", "time")
}
_SELECT_TEMPLATE = "django/forms/widgets/select.html"
_OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


class _Unsupported(Exception):
    """A value the templates would format (localize, or fail on): left to them."""


def _text(value) -> str:
    """`{{ value }}`: strings (and lazy strings) escaped unless marked safe; anything else is the
    templates' to format."""
    if isinstance(value, str | Promise):
        return conditional_escape(value)
    raise _Unsupported


def _string(value) -> str:
    """`{{ value|stringformat:'s' }}`: "%s" % value, escaped unless it was marked safe."""
    if isinstance(value, tuple):  # "%s" % (a, b) fails; the filter then gives "", left to the templates
        raise _Unsupported
    return conditional_escape(value)


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: False leaves the attribute out, True writes its bare name."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_string(value)}"')
    return "".join(out)


def _input(widget: dict) -> str:
    value = "" if widget["value"] is None else f' value="{_string(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _option(option: dict) -> str:
    if option["template_name"] != _OPTION_TEMPLATE:
        raise _Unsupported
    return f'<option value="{_string(option["value"])}"{_attrs(option["attrs"])}>{_text(option["label"])}</option>'


def _select(widget: dict) -> str:
    out = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _ in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        # Each option's template ends in a newline, kept inside the select (only the outer result is stripped).
        out.extend(f"\n  {_option(option)}\n" for option in options)
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_DRAWN = {**dict.fromkeys(_INPUT_TEMPLATES, _input), _SELECT_TEMPLATE: _select}


class PythonWidgetRenderer(DjangoTemplates):
    """Django's default form renderer, with the input and select widgets drawn in Python (same HTML)."""

    def render(self, template_name, context, request=None):
        draw = _DRAWN.get(template_name)
        if draw is not None and set(context) == {"widget"}:
            try:
                return draw(context["widget"])
            except _Unsupported:
                pass
        return super().render(template_name, context, request)


# One per process, like Django's own default renderer (its template engine is built once).
python_widget_renderer = PythonWidgetRenderer()
