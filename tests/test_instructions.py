"""The instruction sheet: the patient's day-by-day plan in plain words, and the same content as a PDF."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from procedures.documents.instructions_pdf import instructions_pdf
from procedures.models import HoldPlan, Medication
from procedures.selectors.instructions import instruction_sheet
from procedures.services.medications import patient_medication_add
from procedures.services.safety import clearance_record, hold_plan_confirm
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


@pytest.fixture
def appt(frontdesk):
    with time_machine.travel(datetime(2026, 3, 1, 9, tzinfo=NY)):
        start = datetime(2026, 3, 20, 10, 0, tzinfo=NY)
        appointment = AppointmentFactory(
            start=start,
            end=start + timedelta(minutes=30),
            monitoring_until=start + timedelta(minutes=60),
            room_until=start + timedelta(minutes=40),
            sedation_planned=True,
            patient=PatientFactory(first_name="Rosa", last_name="Diaz", diabetes=True),
            procedure_type=ProcedureTypeFactory(
                name="Lumbar TFESI", bleeding_risk="intermediate", uses_steroid=True
            ),
        )
        patient_medication_add(
            patient_id=appointment.patient_id,
            medication=Medication.objects.get(generic_name="warfarin"),
            actor=frontdesk,
        )
        patient_medication_add(
            patient_id=appointment.patient_id,
            medication=Medication.objects.get(generic_name="aspirin"),
            indication="primary",
            actor=frontdesk,
        )
    return appointment


def test_the_sheet_lists_each_day_in_plain_words(appt):
    sheet = instruction_sheet(appointment=appt)
    by_day = {day.label: day.items for day in sheet.calendar}
    assert by_day["Saturday 14 March"] == ["Take your LAST dose of warfarin today."]
    for label in ("Sunday 15 March", "Thursday 19 March"):
        assert by_day[label] == ["Do NOT take warfarin."]
    friday = by_day["Friday 20 March"]
    assert friday[0] == "Do NOT take warfarin before the procedure."
    assert friday[1:6] == [
        "From 2:00 AM: no fried or fatty food, and no meat.",
        "From 4:00 AM: nothing more to eat.",
        "From 8:00 AM: nothing more to drink (a sip of water with your morning medicines is fine).",
        "Arrive at 9:30 AM for your procedure with " + str(appt.physician) + ".",
        "You may restart warfarin after 4:30 PM, unless the doctor tells you otherwise at discharge.",
    ]
    assert any(
        "aspirin" in text and "asking the doctor who prescribes it" in text for text in sheet.still_to_confirm
    )
    assert "not yet confirmed" in " ".join(sheet.still_to_confirm)
    assert sheet.escort and "responsible adult" in sheet.escort[0]
    assert "blood sugar" in sheet.diabetes
    assert sheet.clinic_phone and any("bladder" in flag for flag in sheet.red_flags)


def test_once_confirmed_and_cleared_nothing_is_left_to_confirm(appt, physician, nurse):
    plan = HoldPlan.objects.get(appointment=appt)
    clearance_record(
        line_id=plan.lines.get(medication__generic_name="aspirin").pk, status="cleared", actor=nurse
    )
    hold_plan_confirm(appointment_id=appt.pk, actor=physician)
    assert instruction_sheet(appointment=appt).still_to_confirm == []


def test_without_sedation_there_is_no_fasting_and_no_escort(frontdesk):
    appt = AppointmentFactory(sedation_planned=False)
    sheet = instruction_sheet(appointment=appt)
    assert sheet.escort == []
    assert "do not need to stop eating" in sheet.fasting[0]


def test_the_pdf_is_a_real_pdf_with_the_patients_plan(appt):
    pdf = instructions_pdf(instruction_sheet(appointment=appt))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 3000
