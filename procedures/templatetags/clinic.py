"""Display helpers for people reading a chart or a phone number aloud."""

from datetime import date

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def phone_display(value: str) -> str:
    """+15550102345 → (555) 010-2345 for North American numbers; anything else as stored."""
    if value and value.startswith("+1") and len(value) == 12 and value[1:].isdigit():
        return f"({value[2:5]}) {value[5:8]}-{value[8:]}"
    return value or ""


@register.filter
def age(born: date | None) -> str:
    if not born:
        return ""
    today = timezone.localdate()
    return str(today.year - born.year - ((today.month, today.day) < (born.month, born.day)))
