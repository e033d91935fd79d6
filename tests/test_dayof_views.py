"""The day-of pages: check-in, the procedure record, the recovery board, discharge and after-care, and the
post-block diary. Each refusal is the service's message on the page, with what was typed kept, and nothing
changes. The clock stands still at 11:00 in the clinic so that the times typed mean the same on every run."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procedures.models import (
    AppointmentStatus,
    BlockDiaryEntry,
    Discharge,
    ProcedureRecord,
    ProcedureType,
    SafetyOverride,
    SteroidDose,
    SteroidProduct,
    VitalsEntry,
)
from procedures.services.dayof import (
    IDENTITY_MISMATCH,
    NAME_NOT_CONFIRMED,
    NO_FREE_BAY,
    NO_VITALS,
    appointment_check_in,
    procedure_finish,
    procedure_start,
    vitals_record,
)
from procedures.services.safety import hold_plan_refresh, safety_override
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    ProcedureTypeFactory,
    RecoveryBayFactory,
)

pytestmark = pytest.mark.django_db

CLINIC = ZoneInfo(settings.TIME_ZONE)
NOW = datetime(2026, 3, 4, 11, 0, tzinfo=CLINIC)  # a Wednesday
BORN = date(1950, 4, 2)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _clock(minutes_ago: int) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%H:%M")


def _ago(minutes: int) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.fixture
def bay():
    return RecoveryBayFactory(name="Bay A")


def _appointment(bay, *, start_minutes_ago=50, sedation=False, **kwargs):
    start = _ago(start_minutes_ago)
    kwargs.setdefault("patient", PatientFactory(first_name="Rosa", last_name="Delgado", date_of_birth=BORN))
    if "procedure_type" not in kwargs:
        kwargs["procedure_type"] = ProcedureType.objects.filter(name="Lumbar TFESI").first() or (
            ProcedureTypeFactory(name="Lumbar TFESI", monitoring_minutes=15, monitoring_minutes_sedated=30)
        )
    appointment = AppointmentFactory(
        start=start,
        end=start + timedelta(minutes=30),
        room_until=start + timedelta(minutes=40),
        monitoring_until=start + timedelta(minutes=60),
        recovery_bay=bay,
        status=AppointmentStatus.CONFIRMED,
        sedation_planned=sedation,
        **kwargs,
    )
    hold_plan_refresh(appointment_id=appointment.pk)  # what booking does: the checklist
    return appointment


@pytest.fixture
def appt(bay):
    return _appointment(bay)


def _checked_in(appt, nurse, *, minutes_ago=45):
    appointment_check_in(
        appointment_id=appt.pk,
        actor=nurse,
        name_confirmed=True,
        date_of_birth=appt.patient.date_of_birth,
        at=_ago(minutes_ago),
    )
    return appt


def _gate_overridden(appt, physician):
    safety_override(
        appointment_id=appt.pk,
        scope=SafetyOverride.Scope.CHECKLIST,
        actor=physician,
        reason="Consent signed on paper; scanned after",
    )


def _in_recovery(appt, nurse, physician, *, start=40, end=25, **details):
    _checked_in(appt, nurse, minutes_ago=start + 5)
    _gate_overridden(appt, physician)
    procedure_start(appointment_id=appt.pk, actor=physician, at=_ago(start), baseline_pain=7)
    procedure_finish(appointment_id=appt.pk, actor=physician, ended_at=_ago(end), details=details)
    appt.refresh_from_db()
    return appt


def _vitals(appt, nurse, minutes_ago=2, **overrides):
    fields = dict(systolic=128, diastolic=78, heart_rate=72, spo2=97, pain=2)
    fields.update(overrides)
    return vitals_record(appointment_id=appt.pk, actor=nurse, taken_at=_ago(minutes_ago), **fields)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _html(response) -> str:
    return response.content.decode()


# --- Check-in ------------------------------------------------------------------------------------------------


class TestCheckInList:
    def test_it_lists_the_day_by_arrival_time_with_what_blocks_and_a_link_to_the_safety_section(
        self, client, nurse, bay
    ):
        later = _appointment(bay, start_minutes_ago=-60, patient=PatientFactory(last_name="Later"))
        earlier = _appointment(bay, start_minutes_ago=-10, patient=PatientFactory(last_name="Earlier"))
        client.force_login(nurse)
        response = client.get("/day/checkin/")
        assert response.status_code == 200
        rows = [row.arrival.appointment for row in response.context["rows"]]
        assert rows == [earlier, later]
        html = _html(response)
        assert "Consent form signed" in html
        assert f'href="/appointments/{earlier.pk}/#safety"' in html
        assert f'id="arrival-{earlier.pk}"' in html
        assert html.index("Earlier,") < html.index("Later,")
        # 10:20 arrival for 10:50 (arrive 30 minutes early: the clinic's setting).
        assert (NOW + timedelta(minutes=10) - timedelta(minutes=30)).strftime("%H:%M") in html

    def test_the_date_of_birth_on_file_is_not_shown_next_to_the_question(self, client, nurse, appt):
        client.force_login(nurse)
        html = _html(client.get("/day/checkin/"))
        assert "Date of birth, as the patient says it" in html
        assert "1950-04-02" not in html and "1950" not in html

    def test_another_day_is_chosen_in_the_address_and_a_bad_date_falls_back_to_today(
        self, client, nurse, appt
    ):
        client.force_login(nurse)
        response = client.get("/day/checkin/?date=2026-03-05")
        assert response.context["day"] == date(2026, 3, 5) and response.context["rows"] == []
        assert "Nobody is booked on Thursday 5 March." in _html(response)
        response = client.get("/day/checkin/?date=2026-02-30")
        assert response.context["day"] == date(2026, 3, 4)
        assert "There is no such date as “2026-02-30”. Showing today instead." in _messages(response)

    def test_someone_without_a_role_is_refused(self, client, outsider):
        client.force_login(outsider)
        assert client.get("/day/checkin/").status_code == 403


class TestCheckIn:
    def test_it_checks_in_with_the_name_ticked_and_the_right_date_of_birth(self, client, nurse, appt):
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{appt.pk}/check-in/", {"name_confirmed": "on", "date_of_birth": "1950-04-02"}
        )
        assert response.status_code == 302
        assert response["Location"] == f"/day/checkin/?date=2026-03-04#arrival-{appt.pk}"
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.CHECKED_IN
        page = client.get(response["Location"])
        assert "Rosa Delgado checked in at 11:00: name and date of birth confirmed." in _messages(page)
        assert page.context["rows"][0].form is None  # no second check-in form

    def test_a_wrong_date_of_birth_is_refused_with_the_service_message_and_the_input_kept(
        self, client, nurse, appt
    ):
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{appt.pk}/check-in/", {"name_confirmed": "on", "date_of_birth": "1950-02-04"}
        )
        assert response.status_code == 200
        assert _messages(response) == [f"Rosa Delgado is not checked in. {IDENTITY_MISMATCH}"]
        html = _html(response)
        assert 'value="1950-02-04"' in html and 'data-testid="checkin-refused"' in html
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.CONFIRMED

    def test_the_name_must_be_ticked(self, client, nurse, appt):
        client.force_login(nurse)
        response = client.post(f"/appointments/{appt.pk}/check-in/", {"date_of_birth": "1950-04-02"})
        assert NAME_NOT_CONFIRMED in _messages(response)[0]
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.CONFIRMED

    def test_a_missing_date_of_birth_is_asked_for(self, client, nurse, appt):
        client.force_login(nurse)
        response = client.post(f"/appointments/{appt.pk}/check-in/", {"name_confirmed": "on"})
        assert _messages(response) == [
            "Rosa Delgado is not checked in. Type the date of birth the patient gives."
        ]

    def test_a_second_check_in_is_refused(self, client, nurse, appt):
        _checked_in(appt, nurse)
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{appt.pk}/check-in/", {"name_confirmed": "on", "date_of_birth": "1950-04-02"}
        )
        assert "This patient is checked in: checking in is not possible now." in _messages(response)[0]

    def test_it_needs_the_permission_to_change_appointments(self, client, outsider, appt):
        client.force_login(outsider)
        response = client.post(
            f"/appointments/{appt.pk}/check-in/", {"name_confirmed": "on", "date_of_birth": "1950-04-02"}
        )
        assert response.status_code == 403


# --- The procedure -------------------------------------------------------------------------------------------


def _finish_data(**overrides) -> dict:
    data = {
        "ended_at": _clock(0),
        "baseline_pain": "7",
        "levels": "L4-L5",
        "side": "left",
        "approach": "transforaminal",
        "imaging_used": "fluoroscopy",
        "contrast_ml": "1.5",
        "local_anaesthetic": "lidocaine 1% 3 mL",
        "sedation_agent": "",
        "complications": "",
        "notes": "",
        "steroid-TOTAL_FORMS": "2",
        "steroid-INITIAL_FORMS": "0",
        "steroid-MIN_NUM_FORMS": "0",
        "steroid-MAX_NUM_FORMS": "4",
        "steroid-0-steroid": "",
        "steroid-0-dose_mg": "",
        "steroid-1-steroid": "",
        "steroid-1-dose_mg": "",
    }
    data.update(overrides)
    return data


class TestProcedurePage:
    def test_the_gate_refuses_the_start_and_names_what_is_open(self, client, nurse, physician, appt):
        _checked_in(appt, nurse)
        client.force_login(physician)
        page = client.get(f"/appointments/{appt.pk}/procedure/")
        assert page.status_code == 200
        assert "Cannot start yet" in _html(page) and "Consent form signed" in _html(page)

        response = client.post(
            f"/appointments/{appt.pk}/procedure/start/", {"baseline_pain": "6", "at": _clock(0)}
        )
        assert response.status_code == 200
        [message] = _messages(response)
        assert message.startswith("Not started. Before the procedure can start: consent form signed")
        assert response.context["start_form"]["baseline_pain"].value() == "6"
        assert not ProcedureRecord.objects.exists()

    def test_start_then_finish_charts_the_record_and_warns_about_a_dose_above_the_ceiling(
        self, client, nurse, physician, appt
    ):
        _checked_in(appt, nurse, minutes_ago=30)
        _gate_overridden(appt, physician)
        client.force_login(physician)
        response = client.post(
            f"/appointments/{appt.pk}/procedure/start/", {"baseline_pain": "7", "at": _clock(25)}
        )
        assert response.status_code == 302 and response["Location"] == f"/appointments/{appt.pk}/procedure/"
        record = ProcedureRecord.objects.get(appointment=appt)
        assert (record.started_at, record.baseline_pain) == (_ago(25), 7)

        dexamethasone = SteroidProduct.objects.get(name="dexamethasone")
        response = client.post(
            f"/appointments/{appt.pk}/procedure/finish/",
            _finish_data(
                ended_at=_clock(5), **{"steroid-0-steroid": dexamethasone.pk, "steroid-0-dose_mg": "20"}
            ),
            follow=True,
        )
        messages = _messages(response)[1:]  # after "Procedure started at 10:35 for Rosa Delgado."
        assert messages[0] == (
            "Procedure charted, ended 10:55. Rosa Delgado goes to Bay A; discharge from 11:10 at the earliest."
        )
        assert messages[1].startswith("Charted, but check the steroid dose: dexamethasone 20 mg is above")
        record.refresh_from_db()
        assert (record.ended_at, record.levels, record.contrast_ml) == (_ago(5), "L4-L5", Decimal("1.5"))
        assert record.local_anaesthetic == "lidocaine 1% 3 mL" and record.side == "left"
        assert SteroidDose.objects.get(appointment=appt).dose_mg == Decimal("20")
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_RECOVERY
        assert 'data-testid="record-summary"' in _html(response)

    def test_an_end_before_the_start_is_refused_and_the_record_typed_is_kept(
        self, client, nurse, physician, appt
    ):
        _checked_in(appt, nurse, minutes_ago=30)
        _gate_overridden(appt, physician)
        procedure_start(appointment_id=appt.pk, actor=physician, at=_ago(20))
        client.force_login(physician)
        response = client.post(
            f"/appointments/{appt.pk}/procedure/finish/", _finish_data(ended_at=_clock(25))
        )
        assert response.status_code == 200
        assert _messages(response) == ["Not finished. The end 10:35 is before the start 10:40."]
        assert response.context["finish_form"]["levels"].value() == "L4-L5"
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_PROCEDURE

    def test_an_end_in_the_future_is_refused(self, client, nurse, physician, appt):
        _checked_in(appt, nurse, minutes_ago=30)
        _gate_overridden(appt, physician)
        procedure_start(appointment_id=appt.pk, actor=physician, at=_ago(20))
        client.force_login(physician)
        response = client.post(
            f"/appointments/{appt.pk}/procedure/finish/", _finish_data(ended_at=_clock(-15))
        )
        assert _messages(response) == ["Not finished. The end 11:15 is in the future."]

    def test_a_full_recovery_area_is_refused(self, client, nurse, physician, bay, appt):
        other = _appointment(bay, start_minutes_ago=120, patient=PatientFactory(last_name="Ahead"))
        _in_recovery(other, nurse, physician, start=100, end=80)
        _checked_in(appt, nurse, minutes_ago=30)
        _gate_overridden(appt, physician)
        procedure_start(appointment_id=appt.pk, actor=physician, at=_ago(20))
        client.force_login(physician)
        response = client.post(f"/appointments/{appt.pk}/procedure/finish/", _finish_data())
        assert _messages(response) == [f"Not finished. {NO_FREE_BAY}"]
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_PROCEDURE

    def test_a_steroid_without_a_dose_and_a_dose_without_a_steroid_are_named(
        self, client, nurse, physician, appt
    ):
        _checked_in(appt, nurse, minutes_ago=30)
        _gate_overridden(appt, physician)
        procedure_start(appointment_id=appt.pk, actor=physician, at=_ago(20))
        client.force_login(physician)
        response = client.post(
            f"/appointments/{appt.pk}/procedure/finish/", _finish_data(**{"steroid-1-dose_mg": "8"})
        )
        assert _messages(response) == ["Not finished. Choose which steroid the 8 mg dose was."]
        dexamethasone = SteroidProduct.objects.get(name="dexamethasone")
        response = client.post(
            f"/appointments/{appt.pk}/procedure/finish/",
            _finish_data(**{"steroid-0-steroid": dexamethasone.pk}),
        )
        assert _messages(response) == ["Not finished. Give the dexamethasone dose in mg."]
        assert not SteroidDose.objects.exists()

    def test_a_nurse_can_neither_open_nor_finish_the_record(self, client, nurse, appt):
        _checked_in(appt, nurse)
        client.force_login(nurse)
        assert client.get(f"/appointments/{appt.pk}/procedure/").status_code == 403
        assert client.post(f"/appointments/{appt.pk}/procedure/finish/", _finish_data()).status_code == 403

    def test_an_unknown_appointment_is_404(self, client, physician):
        client.force_login(physician)
        assert client.get("/appointments/999999/procedure/").status_code == 404


# --- The recovery board --------------------------------------------------------------------------------------


def _vitals_data(**overrides) -> dict:
    data = {
        "systolic": "128",
        "diastolic": "78",
        "heart_rate": "72",
        "spo2": "97",
        "pain": "2",
        "leg_strength": "normal",
        "numbness": "expected",
        "taken_at": _clock(0),
    }
    data.update(overrides)
    return data


class TestRecoveryBoard:
    def test_it_shows_each_occupied_bay_with_its_countdown_alerts_and_the_free_bays(
        self, client, nurse, physician, appt
    ):
        RecoveryBayFactory(name="Bay B")
        _in_recovery(appt, nurse, physician, start=20, end=10)
        client.force_login(nurse)
        response = client.get("/day/recovery/")
        assert response.status_code == 200
        html = _html(response)
        [card] = response.context["cards"]
        assert card.row.bay.name == "Bay A" and card.countdown == "5:00"
        assert 'data-countdown="2026-03-04T11:05:00-05:00"' in html
        assert "Minimum stay" in html and ">5:00<" in html
        assert "Observations overdue since 11:05" not in html  # due at 11:05, not yet
        assert 'hx-get="/day/recovery/board/"' in html and 'hx-trigger="every 30s' in html
        assert "Bay B" in response.context["free_bays"][0].name

    def test_the_partial_refresh_carries_the_cards_and_overdue_rounds_in_red(
        self, client, nurse, physician, appt, clock
    ):
        _in_recovery(appt, nurse, physician, start=40, end=30)
        client.force_login(nurse)
        response = client.get("/day/recovery/board/")
        html = _html(response)
        assert "<html" not in html  # the cards alone
        assert 'data-testid="alerts"' in html
        assert "Observations overdue since 10:45" in html
        assert "Every bay is occupied" in html

    def test_the_board_reads_in_a_constant_number_of_queries(self, client, nurse, physician, bay):
        client.force_login(nurse)

        def count() -> int:
            client.get("/day/recovery/board/")  # warm the session and permission caches
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/day/recovery/board/").status_code == 200
            return len(queries)

        first = _appointment(bay, start_minutes_ago=60, patient=PatientFactory(last_name="One"))
        _in_recovery(first, nurse, physician, start=50, end=40)
        _vitals(first, nurse)
        one = count()
        for i in range(3):
            other = _appointment(
                RecoveryBayFactory(name=f"Bay {i + 2}"),
                start_minutes_ago=60,
                patient=PatientFactory(last_name=f"More{i}"),
            )
            _in_recovery(other, nurse, physician, start=50, end=40)
            _vitals(other, nurse, minutes_ago=1, numbness="new")
        four = count()
        assert four == one, f"{one} queries with one patient, {four} with four"

    def test_it_needs_the_permission_to_see_observations(self, client, frontdesk):
        client.force_login(frontdesk)
        assert client.get("/day/recovery/").status_code == 403
        assert client.get("/day/recovery/board/").status_code == 403


class TestVitals:
    def test_a_nurse_charts_a_round_and_goes_back_to_the_card(self, client, nurse, physician, appt):
        _in_recovery(appt, nurse, physician, start=20, end=10)
        client.force_login(nurse)
        response = client.post(f"/appointments/{appt.pk}/vitals/", _vitals_data(taken_at=_clock(3)))
        assert response.status_code == 302 and response["Location"] == f"/day/recovery/#card-{appt.pk}"
        entry = VitalsEntry.objects.get(appointment=appt)
        assert (entry.taken_at, entry.systolic, entry.numbness, entry.recorded_by) == (
            _ago(3),
            128,
            "expected",
            nurse,
        )
        page = client.get(response["Location"])
        assert "Bay A · Rosa Delgado: observations of 10:57 charted." in _messages(page)
        assert "BP <strong>128/78</strong>" in _html(page)

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"taken_at": _clock(-10)}, "Observations at 11:10 is in the future."),
            (
                {"taken_at": _clock(15)},
                "Observations at 10:45 is before the end of the procedure at 10:50.",
            ),
            (
                {"systolic": "80", "diastolic": "90"},
                "Blood pressure 80/90: the lower number must be below the upper one.",
            ),
            ({"pain": "11"}, "Pain is a whole number from 0 to 10."),
            ({"spo2": "9"}, "SpO₂ 9 looks like a typing error: enter a value from 50 to 100."),
            ({"heart_rate": ""}, "Enter the heart rate."),
            ({"heart_rate": "seventy"}, "Enter the heart rate as a whole number."),
        ],
    )
    def test_an_impossible_round_is_refused_with_the_input_kept(
        self, client, nurse, physician, appt, overrides, message
    ):
        _in_recovery(appt, nurse, physician, start=20, end=10)
        client.force_login(nurse)
        data = _vitals_data(**overrides)
        response = client.post(f"/appointments/{appt.pk}/vitals/", data)
        assert response.status_code == 200
        assert _messages(response) == [f"Rosa Delgado: observations not charted. {message}"]
        [card] = response.context["cards"]
        assert card.form.is_bound and card.form["diastolic"].value() == data["diastolic"]
        assert "data-bound" in _html(response)  # the refresh leaves the typed form alone
        assert not VitalsEntry.objects.exists()

    def test_a_patient_not_in_recovery_cannot_be_charted(self, client, nurse, physician, appt):
        _checked_in(appt, nurse)
        client.force_login(nurse)
        response = client.post(f"/appointments/{appt.pk}/vitals/", _vitals_data())
        assert _messages(response) == [
            "Rosa Delgado: observations not charted. This patient is checked in: charting recovery "
            "observations is not possible now."
        ]

    def test_front_desk_cannot_chart(self, client, frontdesk, appt):
        client.force_login(frontdesk)
        assert client.post(f"/appointments/{appt.pk}/vitals/", _vitals_data()).status_code == 403


# --- Discharge and after-care ------------------------------------------------------------------------------


def _discharge_data(**overrides) -> dict:
    data = {
        "vitals_stable": "on",
        "walks_safely": "on",
        "pain_controlled": "on",
        "at": _clock(0),
        "early_reason": "",
    }
    data.update(overrides)
    return data


class TestDischarge:
    def test_it_discharges_after_the_minimum_time_and_shows_the_after_care_sheet(
        self, client, nurse, physician, appt
    ):
        appt.patient.diabetes = True
        appt.patient.save()
        _in_recovery(appt, nurse, physician, start=40, end=25)
        _vitals(appt, nurse, minutes_ago=5)
        client.force_login(nurse)
        page = client.get(f"/appointments/{appt.pk}/discharge/")
        assert page.status_code == 200 and page.context["early"] is False
        html = _html(page)
        assert 'name="escort_present"' not in html  # no sedation: no escort asked
        assert 'id="early-reason" data-testid="early-reason" hidden' in html

        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data(), follow=True)
        assert response.redirect_chain[-1][0] == f"/appointments/{appt.pk}/after-care/"
        assert _messages(response) == [
            "Rosa Delgado discharged at 11:00. Bay A is free again. Give the patient the after-care sheet below."
        ]
        discharge = Discharge.objects.get(appointment=appt)
        assert (discharge.by, discharge.escort_present, discharge.early_reason) == (nurse, None, "")
        html = _html(response)
        assert "Your blood sugar" in html and "Steroids can raise blood sugar" in html
        assert settings.CLINIC_PHONE in html and "bladder" in html
        assert "You went home at 11:00 AM." in html

    def test_before_the_minimum_time_the_reason_is_asked_and_required(self, client, nurse, physician, appt):
        _in_recovery(appt, nurse, physician, start=15, end=5)
        _vitals(appt, nurse, minutes_ago=1)
        client.force_login(nurse)
        page = client.get(f"/appointments/{appt.pk}/discharge/")
        assert page.context["early"] is True
        assert 'id="early-reason" data-testid="early-reason">' in _html(page)

        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data())
        assert _messages(response) == [
            "Rosa Delgado is not discharged. The minimum observation time ends at 11:10. "
            "Discharging earlier needs a reason."
        ]
        assert response.context["form"]["walks_safely"].value() is True  # the ticks are kept
        appt.refresh_from_db()
        assert appt.status == AppointmentStatus.IN_RECOVERY

        reason = "Trigger point only; walking well; husband waiting"
        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data(early_reason=reason))
        assert response.status_code == 302
        assert Discharge.objects.get(appointment=appt).early_reason == reason

    def test_every_unmet_criterion_is_named_and_nothing_is_waived(self, client, nurse, physician, appt):
        _in_recovery(appt, nurse, physician, start=40, end=25)
        _vitals(appt, nurse)
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{appt.pk}/discharge/",
            _discharge_data(walks_safely="", pain_controlled="", early_reason="in a hurry"),
        )
        assert _messages(response) == [
            "Rosa Delgado is not discharged. Not ready for discharge: not walking safely, pain not controlled."
        ]

    def test_after_sedation_the_escort_is_asked_and_required(self, client, nurse, physician, bay):
        appt = _appointment(bay, sedation=True)
        _in_recovery(appt, nurse, physician, start=45, end=35, sedation_given=True)
        _vitals(appt, nurse)
        client.force_login(nurse)
        assert 'name="escort_present"' in _html(client.get(f"/appointments/{appt.pk}/discharge/"))
        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data())
        assert _messages(response) == [
            "Rosa Delgado is not discharged. Not ready for discharge: no escort after sedation."
        ]
        response = client.post(
            f"/appointments/{appt.pk}/discharge/", _discharge_data(escort_present="on"), follow=True
        )
        assert Discharge.objects.get(appointment=appt).escort_present is True
        html = _html(response)
        assert "You had sedation" in html and "for 24 hours" in html

    def test_discharge_needs_observations_and_is_not_before_the_end(self, client, nurse, physician, appt):
        _in_recovery(appt, nurse, physician, start=40, end=25)
        client.force_login(nurse)
        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data())
        assert _messages(response) == [f"Rosa Delgado is not discharged. {NO_VITALS}"]
        _vitals(appt, nurse)
        response = client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data(at=_clock(30)))
        assert _messages(response) == [
            "Rosa Delgado is not discharged. Discharge at 10:30 is before the end of the procedure at 10:35."
        ]

    def test_the_page_says_when_the_patient_is_not_in_recovery(self, client, nurse, appt):
        client.force_login(nurse)
        html = _html(client.get(f"/appointments/{appt.pk}/discharge/"))
        assert "This patient is confirmed: discharge is possible once they are in recovery." in html
        assert 'name="walks_safely"' not in html

    def test_a_discharged_patient_goes_to_the_after_care_sheet(self, client, nurse, physician, appt):
        _in_recovery(appt, nurse, physician, start=40, end=25)
        _vitals(appt, nurse)
        client.force_login(nurse)
        client.post(f"/appointments/{appt.pk}/discharge/", _discharge_data())
        response = client.get(f"/appointments/{appt.pk}/discharge/")
        assert response.status_code == 302 and response["Location"] == f"/appointments/{appt.pk}/after-care/"

    def test_front_desk_cannot_discharge(self, client, frontdesk, appt):
        client.force_login(frontdesk)
        assert client.get(f"/appointments/{appt.pk}/discharge/").status_code == 403
        assert client.get(f"/appointments/{appt.pk}/after-care/").status_code == 403


# --- The post-block diary ------------------------------------------------------------------------------------


@pytest.fixture
def block(bay, nurse, physician):
    appt = _appointment(
        bay,
        start_minutes_ago=130,
        procedure_type=ProcedureTypeFactory(
            name="Lumbar medial branch block",
            family="facet_mbb",
            purpose="diagnostic",
            uses_steroid=False,
            diary_timepoints_minutes=[30, 60, 120],
        ),
    )
    return _in_recovery(appt, nurse, physician, start=125, end=115)


class TestDiary:
    def test_the_timepoints_are_rows_and_the_peak_relief_follows(self, client, nurse, block):
        client.force_login(nurse)
        page = client.get(f"/appointments/{block.pk}/diary/")
        assert [row.minutes for row in page.context["rows"]] == [30, 60, 120]
        html = _html(page)
        assert "due 09:35" in html and "due 10:05" in html and "due 11:05" in html

        for minutes, pain, relief in ((30, 2, 80), (60, 1, 90)):
            response = client.post(
                f"/appointments/{block.pk}/diary/",
                {"minutes_after": minutes, "pain": pain, "relief_percent": relief, "source": "nurse"},
            )
            assert response.status_code == 302
            assert response["Location"] == f"/appointments/{block.pk}/diary/#diary-{minutes}"
        page = client.get(f"/appointments/{block.pk}/diary/")
        assert "60 min after the block: pain 1, relief 90 %. Peak relief so far: 90 %." in _messages(page)
        assert '<div class="fs-2 fw-bold" data-testid="peak-relief">90 %</div>' in _html(page)
        block.refresh_from_db()
        assert block.block_peak_relief_percent == 90
        assert BlockDiaryEntry.objects.filter(appointment=block).count() == 2

    def test_a_bad_entry_is_refused_with_the_input_kept(self, client, nurse, block):
        client.force_login(nurse)
        response = client.post(
            f"/appointments/{block.pk}/diary/",
            {"minutes_after": 60, "pain": 3, "relief_percent": 120, "source": "patient"},
        )
        assert _messages(response) == ["Not charted. Relief is a percentage from 0 to 100."]
        row = response.context["rows"][1]
        assert row.form.is_bound and row.form["relief_percent"].value() == "120"
        assert not BlockDiaryEntry.objects.exists()

    def test_a_procedure_without_a_diary_says_so(self, client, nurse, appt):
        client.force_login(nurse)
        response = client.get(f"/appointments/{appt.pk}/diary/")
        assert "This procedure has no post-block diary." in _html(response)
        response = client.post(
            f"/appointments/{appt.pk}/diary/",
            {"minutes_after": 30, "pain": 3, "relief_percent": 50, "source": "nurse"},
        )
        assert _messages(response) == ["Not charted. This procedure has no post-block diary."]

    def test_front_desk_cannot_chart_the_diary(self, client, frontdesk, block):
        client.force_login(frontdesk)
        assert client.get(f"/appointments/{block.pk}/diary/").status_code == 403
