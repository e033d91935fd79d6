from django.urls import path

from procedures.views import appointments, home, patients, safety, schedule, waitlist

urlpatterns = [
    path("", home.home, name="home"),
    path("patients/", patients.patient_list, name="patient-list"),
    path("patients/new/", patients.patient_new, name="patient-new"),
    path("patients/<int:patient_id>/", patients.patient_detail, name="patient-detail"),
    path("patients/<int:patient_id>/edit/", patients.patient_edit, name="patient-edit"),
    path("schedule/day/", schedule.schedule_day, name="schedule-day"),
    path("schedule/week/", schedule.schedule_week, name="schedule-week"),
    path("schedule/mine/", schedule.schedule_mine, name="schedule-mine"),
    path("appointments/new/", appointments.appointment_new, name="appointment-new"),
    path("appointments/<int:appointment_id>/", appointments.appointment_detail, name="appointment-detail"),
    path(
        "appointments/<int:appointment_id>/reschedule/",
        appointments.appointment_reschedule_view,
        name="appointment-reschedule",
    ),
    path(
        "appointments/<int:appointment_id>/cancel/",
        appointments.appointment_cancel_view,
        name="appointment-cancel",
    ),
    path(
        "appointments/<int:appointment_id>/confirm/",
        appointments.appointment_confirm,
        name="appointment-confirm",
    ),
    path(
        "appointments/<int:appointment_id>/no-show/",
        appointments.appointment_no_show,
        name="appointment-no-show",
    ),
    # Pre-procedure safety: the medication list, the appointment's Safety section, instructions, worklist.
    path(
        "patients/<int:patient_id>/medications/",
        safety.patient_medication_add_view,
        name="patient-medication-add",
    ),
    path(
        "patients/<int:patient_id>/medications/<int:patient_medication_id>/stop/",
        safety.patient_medication_stop_view,
        name="patient-medication-stop",
    ),
    path(
        "appointments/<int:appointment_id>/safety/refresh/",
        safety.hold_plan_refresh_view,
        name="hold-plan-refresh",
    ),
    path(
        "appointments/<int:appointment_id>/safety/confirm-plan/",
        safety.hold_plan_confirm_view,
        name="hold-plan-confirm",
    ),
    path(
        "appointments/<int:appointment_id>/safety/holds/<int:line_id>/override/",
        safety.hold_line_override_view,
        name="hold-line-override",
    ),
    path(
        "appointments/<int:appointment_id>/safety/holds/<int:line_id>/clearance/",
        safety.hold_line_clearance_view,
        name="hold-line-clearance",
    ),
    path(
        "appointments/<int:appointment_id>/safety/patient-confirmed/",
        safety.holds_patient_confirm_view,
        name="holds-patient-confirm",
    ),
    path(
        "appointments/<int:appointment_id>/safety/checklist/<slug:kind>/",
        safety.checklist_mark_view,
        name="checklist-mark",
    ),
    path(
        "appointments/<int:appointment_id>/safety/override/<slug:scope>/",
        safety.safety_override_view,
        name="safety-override",
    ),
    path(
        "appointments/<int:appointment_id>/instructions/",
        safety.instructions_page,
        name="appointment-instructions",
    ),
    path(
        "appointments/<int:appointment_id>/instructions.pdf",
        safety.instructions_pdf_view,
        name="appointment-instructions-pdf",
    ),
    path("safety/worklist/", safety.safety_worklist_view, name="safety-worklist"),
    path("waitlist/", waitlist.waitlist_index, name="waitlist"),
    path("waitlist/add/", waitlist.waitlist_add_view, name="waitlist-add"),
    path(
        "waitlist/offers/<int:offer_id>/accept/",
        waitlist.waitlist_offer_accept_view,
        name="waitlist-offer-accept",
    ),
    path(
        "waitlist/offers/<int:offer_id>/decline/",
        waitlist.waitlist_offer_decline_view,
        name="waitlist-offer-decline",
    ),
    path(
        "waitlist/entries/<int:entry_id>/remove/",
        waitlist.waitlist_remove_view,
        name="waitlist-entry-remove",
    ),
]
