"""Coverage and repeat limits as warnings (Medicare defaults, editable), and the rolling-year steroid dose."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from procedures.models import AppointmentStatus, CoverageRule, SteroidDose, SteroidProduct
from procedures.selectors.eligibility import _RELIEF_SOURCES, eligibility_warnings, relief_source_register
from tests.factories import AppointmentFactory, PatientFactory, ProcedureTypeFactory

pytestmark = pytest.mark.django_db


def codes(warnings):
    return [w.code for w in warnings]


@pytest.fixture
def patient():
    return PatientFactory(pain_started_on=date(2020, 1, 1), conservative_care_started_on=date(2020, 2, 1))


@pytest.fixture
def esi():
    return ProcedureTypeFactory(family="esi_transforaminal", spinal_region="lumbar", purpose="therapeutic")


def past(patient, ptype, days_ago, **kwargs):
    start = timezone.now() - timedelta(days=days_ago)
    return AppointmentFactory(
        patient=patient, procedure_type=ptype, start=start, status=AppointmentStatus.DISCHARGED, **kwargs
    )


def test_a_first_esi_with_documented_pain_and_care_has_no_warning(patient, esi):
    assert (
        eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now() + timedelta(days=3))
        == []
    )


def test_a_fifth_esi_in_a_year_in_the_same_region_is_flagged(patient, esi):
    interlaminar = ProcedureTypeFactory(family="esi_interlaminar", spinal_region="lumbar")
    for days_ago, ptype in ((300, esi), (200, interlaminar), (100, esi), (30, interlaminar)):
        past(patient, ptype, days_ago)
    past(patient, esi, 20).__class__.objects.filter(start__gt=timezone.now() - timedelta(days=21)).update(
        status=AppointmentStatus.CANCELLED, cancel_reason="x"
    )  # a cancelled session does not count
    warnings = eligibility_warnings(
        patient=patient, procedure_type=esi, start=timezone.now() + timedelta(days=1)
    )
    assert "sessions_12_months" in codes(warnings)
    assert "session 5" in warnings[codes(warnings).index("sessions_12_months")].text
    # another region does not count against lumbar
    cervical = ProcedureTypeFactory(family="esi_transforaminal", spinal_region="cervical")
    assert "sessions_12_months" not in codes(
        eligibility_warnings(
            patient=patient, procedure_type=cervical, start=timezone.now() + timedelta(days=1)
        )
    )


def test_undocumented_pain_and_care_are_flagged_for_a_first_injection(esi):
    patient = PatientFactory()
    assert set(codes(eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now()))) == {
        "pain_duration_unknown",
        "conservative_care_unknown",
    }
    recent = PatientFactory(
        pain_started_on=timezone.localdate() - timedelta(days=10),
        conservative_care_started_on=timezone.localdate(),
    )
    assert set(codes(eligibility_warnings(patient=recent, procedure_type=esi, start=timezone.now()))) == {
        "pain_duration_short",
        "conservative_care_short",
    }


def test_a_repeat_needs_documented_relief(patient, esi):
    previous = past(patient, esi, 120)
    assert "repeat_relief_undocumented" in codes(
        eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now())
    )

    def relief(appointment):
        return (60, 14.0) if appointment.pk == previous.pk else None

    relief_source_register(relief)
    try:
        assert eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now()) == []
    finally:
        _RELIEF_SOURCES.remove(relief)


class TestRadiofrequencyAblation:
    @pytest.fixture
    def types(self):
        return (
            ProcedureTypeFactory(family="facet_mbb", purpose="diagnostic", spinal_region="lumbar"),
            ProcedureTypeFactory(family="facet_rfa", purpose="therapeutic", spinal_region="lumbar"),
        )

    def test_two_qualifying_blocks_two_weeks_apart_allow_rfa(self, patient, types):
        mbb, rfa = types
        past(patient, mbb, 40, block_peak_relief_percent=90)
        past(patient, mbb, 20, block_peak_relief_percent=85)
        assert "diagnostic_blocks" not in codes(
            eligibility_warnings(patient=patient, procedure_type=rfa, start=timezone.now())
        )

    @pytest.mark.parametrize(
        ("blocks", "found"),
        [
            ([(40, 90)], 1),  # only one block
            ([(40, 90), (30, 70)], 1),  # second below 80 %
            ([(40, 90), (35, 95)], 1),  # second too soon (5 days later)
            ([], 0),
        ],
    )
    def test_missing_or_weak_blocks_warn_with_what_was_found(self, patient, types, blocks, found):
        mbb, rfa = types
        for days_ago, relief in blocks:
            past(patient, mbb, days_ago, block_peak_relief_percent=relief)
        warnings = eligibility_warnings(patient=patient, procedure_type=rfa, start=timezone.now())
        text = warnings[codes(warnings).index("diagnostic_blocks")].text
        assert text.startswith(f"{found} of 2 qualifying")

    def test_the_clinic_can_relax_the_threshold(self, patient, types):
        mbb, rfa = types
        past(patient, mbb, 40, block_peak_relief_percent=60)
        CoverageRule.objects.filter(family="facet_rfa").update(
            diagnostic_blocks_required=1, diagnostic_min_relief_percent=50
        )
        assert "diagnostic_blocks" not in codes(
            eligibility_warnings(patient=patient, procedure_type=rfa, start=timezone.now())
        )


class TestSteroid:
    def test_rolling_year_total_needs_equivalence_factors_to_compare(self, patient, esi):
        appt = past(patient, esi, 60)
        SteroidDose.objects.create(
            appointment=appt,
            steroid=SteroidProduct.objects.get(name="triamcinolone"),
            dose_mg=80,
            given_at=appt.start,
        )
        warnings = eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now())
        assert "steroid_year_unconverted" in codes(warnings)

    def test_over_the_yearly_limit_is_flagged(self, patient, esi):
        SteroidProduct.objects.filter(name="triamcinolone").update(mpe_per_mg=Decimal("1"))
        for days_ago in (300, 200, 100):
            appt = past(patient, esi, days_ago)
            SteroidDose.objects.create(
                appointment=appt,
                steroid=SteroidProduct.objects.get(name="triamcinolone"),
                dose_mg=80,
                given_at=appt.start,
            )
        warnings = eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now())
        assert "steroid_year_limit" in codes(warnings)
        assert "240 mg" in warnings[codes(warnings).index("steroid_year_limit")].text

    def test_doses_older_than_a_year_drop_out(self, patient, esi):
        SteroidProduct.objects.filter(name="triamcinolone").update(mpe_per_mg=Decimal("1"))
        appt = past(patient, esi, 400)
        SteroidDose.objects.create(
            appointment=appt,
            steroid=SteroidProduct.objects.get(name="triamcinolone"),
            dose_mg=400,
            given_at=appt.start,
        )
        assert "steroid_year_limit" not in codes(
            eligibility_warnings(patient=patient, procedure_type=esi, start=timezone.now())
        )


def test_contrast_allergy_and_pregnancy_are_flagged():
    patient = PatientFactory(
        allergy_contrast=True,
        possible_pregnancy=True,
        pain_started_on=date(2020, 1, 1),
        conservative_care_started_on=date(2020, 1, 1),
    )
    ptype = ProcedureTypeFactory(uses_contrast=True, imaging="fluoroscopy")
    assert {"contrast_allergy", "pregnancy_fluoroscopy"} <= set(
        codes(eligibility_warnings(patient=patient, procedure_type=ptype, start=timezone.now()))
    )
