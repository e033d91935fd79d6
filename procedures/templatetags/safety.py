"""The safety data for pages whose views live elsewhere: the appointment page's Safety section and the
patient page's Medications card. Each tag reads through procedures.views.safety (a page view never writes)
and gives None to a user without the permission to see it, so the template shows nothing.

    {% load safety %}{% appointment_safety appt as safety %}{% if safety %}…{% endif %}
"""

from django import template

from procedures.models import Appointment, Patient
from procedures.views.safety import medications_card_context, safety_section_context

register = template.Library()


@register.simple_tag(takes_context=True)
def appointment_safety(context, appointment: Appointment) -> dict | None:
    user = context["request"].user
    if not user.has_perm("procedures.view_holdplan"):
        return None
    return safety_section_context(appointment=appointment, user=user)


@register.simple_tag(takes_context=True)
def patient_medications(context, patient: Patient) -> dict | None:
    if not context["request"].user.has_perm("procedures.view_patientmedication"):
        return None
    return medications_card_context(patient=patient, form=context.get("medication_form"))
