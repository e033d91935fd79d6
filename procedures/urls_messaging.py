"""Reminders and check-ins: the outbox, the call list, the patient's own links, SMS webhooks
(procedures/views/messaging.py, procedures/views/checkins.py)."""

from django.urls import path

from procedures.views import checkins, messaging

urlpatterns = [
    path("messages/", messaging.outbox_view, name="outbox"),
    path("messages/<int:message_id>/resend/", messaging.message_resend_view, name="message-resend"),
    path("calls/", checkins.call_list_view, name="call-list"),
    path("calls/<int:item_id>/done/", checkins.call_resolve_view, name="call-resolve"),
    path("sms/twilio/status/", messaging.twilio_status_view, name="twilio-status"),
    path("sms/twilio/inbound/", messaging.twilio_inbound_view, name="twilio-inbound"),
    # The patient's own links (no login; signed tokens, see procedures/patient_links.py).
    path("p/<str:token>/", checkins.patient_appointment_view, name="patient-appointment"),
    path("p/<str:token>/appointment.ics", checkins.patient_appointment_ics, name="patient-appointment-ics"),
    path("c/<str:token>/", checkins.patient_checkin_view, name="patient-checkin"),
    path("o/<str:token>/", checkins.patient_opt_out_view, name="patient-opt-out"),
]
