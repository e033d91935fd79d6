from django.urls import path

from procedures.views import appointments, home, patients, schedule, waitlist

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
