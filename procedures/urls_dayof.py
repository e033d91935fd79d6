"""The day of the procedure: check-in, the procedure record, the recovery board, discharge and after-care,
and the post-block diary (procedures/views/dayof.py)."""

from django.urls import path

from procedures.views import dayof

urlpatterns = [
    path("day/checkin/", dayof.checkin_list_view, name="dayof-checkin"),
    path("day/recovery/", dayof.recovery_board_view, name="dayof-recovery"),
    path("day/recovery/board/", dayof.recovery_board_partial, name="dayof-recovery-board"),
    path("appointments/<int:appointment_id>/check-in/", dayof.check_in_view, name="dayof-check-in"),
    path("appointments/<int:appointment_id>/procedure/", dayof.procedure_page, name="dayof-procedure"),
    path(
        "appointments/<int:appointment_id>/procedure/start/",
        dayof.procedure_start_view,
        name="dayof-procedure-start",
    ),
    path(
        "appointments/<int:appointment_id>/procedure/finish/",
        dayof.procedure_finish_view,
        name="dayof-procedure-finish",
    ),
    path("appointments/<int:appointment_id>/vitals/", dayof.vitals_add_view, name="dayof-vitals"),
    path("appointments/<int:appointment_id>/discharge/", dayof.discharge_view, name="dayof-discharge"),
    path("appointments/<int:appointment_id>/after-care/", dayof.after_care_page, name="dayof-after-care"),
    path("appointments/<int:appointment_id>/diary/", dayof.diary_view, name="dayof-diary"),
]
