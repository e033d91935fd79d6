"""The waitlist: a cancellation offers its time to waiting patients who can be ready for it; the front desk
accepts (booking or moving them) or declines from the waitlist page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from procedures.models import (
    Appointment,
    AppointmentStatus,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from procedures.selectors.readiness import _RULES, readiness_rule_register
from procedures.services.booking import BookingRequest, appointment_book, appointment_cancel
from procedures.services.waitlist import (
    OFFER_CLOSED,
    OFFERS_PER_FREED_SLOT,
    WaitlistError,
    waitlist_add,
    waitlist_offer_accept,
    waitlist_offer_decline,
    waitlist_remove,
)
from tests.factories import AppointmentFactory, PatientFactory
from tests.scheduling_fixtures import at

pytestmark = pytest.mark.django_db


def book(clinic, *, patient, physician="lee", day=None, hh=9, ptype="tfesi"):
    return appointment_book(
        request=BookingRequest(
            patient=clinic["patients"][patient] if isinstance(patient, int) else patient,
            procedure_type=clinic[ptype],
            physician=clinic[physician],
            start=at(day or clinic["monday"], hh),
        ),
        actor=None,
    )


def wait(clinic, *, patient, ptype="tfesi", physician=None, appointment=None, actor=None):
    return waitlist_add(
        patient=clinic["patients"][patient],
        procedure_type=clinic[ptype],
        physician=clinic[physician] if physician else None,
        appointment=appointment,
        actor=actor,
    )


def cancel(appointment, actor=None):
    return appointment_cancel(appointment_id=appointment.pk, actor=actor, reason="Patient unwell")


class TestAdding:
    def test_one_open_request_per_patient_and_procedure(self, clinic, frontdesk):
        entry = wait(clinic, patient=1, actor=frontdesk)
        assert entry.status == WaitlistStatus.WAITING and entry.created_by == frontdesk
        with pytest.raises(WaitlistError, match="is already on the waitlist for Lumbar TFESI"):
            wait(clinic, patient=1)
        assert wait(clinic, patient=1, ptype="prp").procedure_type == clinic["prp"]

    def test_removing_closes_the_request_and_allows_a_new_one(self, clinic):
        entry = wait(clinic, patient=1)
        waitlist_remove(entry_id=entry.pk)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.REMOVED
        assert wait(clinic, patient=1).pk != entry.pk


class TestOffers:
    def test_a_cancellation_offers_its_time_to_the_longest_waiting_who_suit_it(self, clinic):
        freed = book(clinic, patient=0)
        first = wait(clinic, patient=1)
        wait(clinic, patient=2, ptype="prp")  # another procedure
        wait(clinic, patient=3, physician="patel")  # wants another physician
        second = wait(clinic, patient=4, physician="lee")
        cancel(freed)
        offers = list(WaitlistOffer.objects.order_by("id"))
        assert [o.entry for o in offers] == [first, second]
        assert all(
            (o.start, o.physician, o.room, o.status)
            == (freed.start, clinic["lee"], freed.room, OfferStatus.OPEN)
            for o in offers
        )

    def test_the_cancelled_patient_and_those_already_booked_earlier_are_not_offered(self, clinic):
        freed = book(clinic, patient=0, day=clinic["monday"] + timedelta(days=1))
        wait(clinic, patient=0)
        earlier = book(clinic, patient=1, physician="patel")  # Monday, before the freed Tuesday
        wait(clinic, patient=1, appointment=earlier)
        cancel(freed)
        assert not WaitlistOffer.objects.exists()

    def test_patients_who_cannot_be_ready_in_time_are_skipped(self, clinic):
        freed = book(clinic, patient=0)
        wait(clinic, patient=1)
        wait(clinic, patient=2)

        def hold(*, patient, procedure_type, now):
            if patient == clinic["patients"][1]:
                return (freed.start + timedelta(days=1), "clopidogrel must be stopped 7 days before")
            return None

        readiness_rule_register(hold)
        try:
            cancel(freed)
        finally:
            _RULES.remove(hold)
        assert [o.entry.patient for o in WaitlistOffer.objects.all()] == [clinic["patients"][2]]

    def test_at_most_a_few_offers_per_freed_slot(self, clinic):
        freed = book(clinic, patient=0)
        for i in range(1, 6):
            wait(clinic, patient=i)
        cancel(freed)
        assert WaitlistOffer.objects.count() == OFFERS_PER_FREED_SLOT

    def test_time_already_past_is_not_offered(self, clinic):
        past = AppointmentFactory(
            procedure_type=clinic["tfesi"], start=timezone.now() - timedelta(hours=3), physician=clinic["lee"]
        )
        wait(clinic, patient=1)
        appointment_cancel(appointment_id=past.pk, actor=None, reason="Clinic error")
        assert not WaitlistOffer.objects.exists()


class TestAnswering:
    def test_accepting_books_the_patient_and_closes_the_other_offers(self, clinic, frontdesk):
        freed = book(clinic, patient=0)
        entry = wait(clinic, patient=1)
        other = wait(clinic, patient=2)
        cancel(freed)
        offer = WaitlistOffer.objects.get(entry=entry)
        appointment = waitlist_offer_accept(offer_id=offer.pk, actor=frontdesk)
        assert (appointment.patient, appointment.start, appointment.physician) == (
            clinic["patients"][1],
            freed.start,
            clinic["lee"],
        )
        offer.refresh_from_db()
        entry.refresh_from_db()
        assert offer.status == OfferStatus.ACCEPTED and offer.resolved_by == frontdesk
        assert entry.status == WaitlistStatus.BOOKED
        assert WaitlistOffer.objects.get(entry=other).status == OfferStatus.TAKEN

    def test_accepting_moves_the_later_booking_the_patient_held(self, clinic, frontdesk):
        freed = book(clinic, patient=0)
        later = book(clinic, patient=1, day=clinic["monday"] + timedelta(days=3))
        entry = wait(clinic, patient=1, appointment=later)
        cancel(freed)
        moved = waitlist_offer_accept(offer_id=WaitlistOffer.objects.get(entry=entry).pk, actor=frontdesk)
        assert moved.pk == later.pk and moved.start == freed.start
        assert Appointment.objects.filter(patient=clinic["patients"][1]).count() == 1

    def test_if_someone_took_the_time_meanwhile_it_says_why_and_books_nothing(self, clinic, frontdesk):
        freed = book(clinic, patient=0)
        entry = wait(clinic, patient=1)
        cancel(freed)
        book(clinic, patient=5)  # the phone rang first
        offer = WaitlistOffer.objects.get(entry=entry)
        with pytest.raises(WaitlistError, match="Dr Lee is already booked"):
            waitlist_offer_accept(offer_id=offer.pk, actor=frontdesk)
        entry.refresh_from_db()
        assert entry.status == WaitlistStatus.WAITING
        assert not Appointment.objects.filter(patient=clinic["patients"][1]).exists()

    def test_an_offer_whose_time_was_taken_is_closed_as_taken(self, clinic, frontdesk):
        freed = book(clinic, patient=0)
        entry = wait(clinic, patient=1)
        cancel(freed)
        book(clinic, patient=5)
        offer = WaitlistOffer.objects.get(entry=entry)
        with pytest.raises(WaitlistError):
            waitlist_offer_accept(offer_id=offer.pk, actor=frontdesk)
        offer.refresh_from_db()
        assert offer.status == OfferStatus.TAKEN

    def test_declining_keeps_the_patient_waiting_and_a_closed_offer_cannot_be_answered(self, clinic):
        freed = book(clinic, patient=0)
        entry = wait(clinic, patient=1)
        cancel(freed)
        offer = WaitlistOffer.objects.get()
        waitlist_offer_decline(offer_id=offer.pk, actor=None)
        offer.refresh_from_db()
        entry.refresh_from_db()
        assert offer.status == OfferStatus.DECLINED and entry.status == WaitlistStatus.WAITING
        with pytest.raises(WaitlistError, match=OFFER_CLOSED):
            waitlist_offer_decline(offer_id=offer.pk, actor=None)
        with pytest.raises(WaitlistError, match=OFFER_CLOSED):
            waitlist_offer_accept(offer_id=offer.pk, actor=None)


@pytest.fixture
def desk(client, frontdesk):
    client.force_login(frontdesk)
    return client


@pytest.fixture
def offered(clinic):
    """Patient 0's Monday 09:00 cancelled; patient 1 (holding a Thursday booking) has an open offer."""
    freed = book(clinic, patient=0)
    later = book(clinic, patient=1, day=clinic["monday"] + timedelta(days=3))
    entry = wait(clinic, patient=1, appointment=later)
    cancel(freed)
    return {"freed": freed, "later": later, "entry": entry, "offer": WaitlistOffer.objects.get(entry=entry)}


class TestPage:
    def test_it_lists_open_offers_and_waiting_patients(self, desk, clinic, offered):
        wait(clinic, patient=3, ptype="prp", physician="patel")
        html = desk.get(reverse("waitlist")).content.decode()
        assert reverse("waitlist-offer-accept", args=[offered["offer"].pk]) in html
        assert reverse("waitlist-offer-decline", args=[offered["offer"].pk]) in html
        assert "PRP knee" in html and "Dr Patel" in html
        assert reverse("appointment-detail", args=[offered["later"].pk]) in html

    def test_accept_moves_the_booking_and_opens_it(self, desk, offered):
        response = desk.post(reverse("waitlist-offer-accept", args=[offered["offer"].pk]))
        assert response["Location"] == reverse("appointment-detail", args=[offered["later"].pk])
        offered["later"].refresh_from_db()
        assert offered["later"].start == offered["freed"].start
        assert "is booked for" in desk.get(response["Location"]).content.decode()

    def test_accepting_a_taken_slot_explains_and_books_nothing(self, desk, clinic, offered):
        book(clinic, patient=5)
        response = desk.post(reverse("waitlist-offer-accept", args=[offered["offer"].pk]), follow=True)
        assert "Dr Lee is already booked" in response.content.decode()
        offered["later"].refresh_from_db()
        assert offered["later"].start == at(clinic["monday"] + timedelta(days=3), 9)

    def test_decline(self, desk, offered):
        response = desk.post(reverse("waitlist-offer-decline", args=[offered["offer"].pk]), follow=True)
        assert "declined the offer" in response.content.decode()
        offered["offer"].refresh_from_db()
        assert offered["offer"].status == OfferStatus.DECLINED
        again = desk.post(reverse("waitlist-offer-decline", args=[offered["offer"].pk]), follow=True)
        assert OFFER_CLOSED in again.content.decode()

    def test_remove(self, desk, offered):
        desk.post(reverse("waitlist-entry-remove", args=[offered["entry"].pk]))
        offered["entry"].refresh_from_db()
        assert offered["entry"].status == WaitlistStatus.REMOVED

    def test_unknown_ids_are_not_found_and_gets_are_refused(self, desk, offered):
        assert desk.post(reverse("waitlist-offer-accept", args=[999999])).status_code == 404
        assert desk.post(reverse("waitlist-offer-decline", args=[999999])).status_code == 404
        assert desk.post(reverse("waitlist-entry-remove", args=[999999])).status_code == 404
        assert desk.get(reverse("waitlist-offer-accept", args=[offered["offer"].pk])).status_code == 405

    def test_a_nurse_may_decline_but_not_accept(self, client, nurse, offered):
        client.force_login(nurse)
        html = client.get(reverse("waitlist")).content.decode()
        assert reverse("waitlist-offer-accept", args=[offered["offer"].pk]) not in html
        assert client.post(reverse("waitlist-offer-accept", args=[offered["offer"].pk])).status_code == 403

    def test_someone_without_a_role_is_refused(self, client, outsider, clinic):
        client.force_login(outsider)
        assert client.get(reverse("waitlist")).status_code == 403

    def test_queries_do_not_grow_with_the_rows(self, desk, clinic, django_assert_num_queries):
        def fill(n):
            WaitlistEntry.objects.all().delete()
            freed = AppointmentFactory(
                procedure_type=clinic["tfesi"],
                physician=clinic["lee"],
                room=clinic["fluoro1"],
                status=AppointmentStatus.CANCELLED,
                cancel_reason="Unwell",
            )
            for _ in range(n):
                patient = PatientFactory()
                held = AppointmentFactory(
                    procedure_type=clinic["tfesi"], patient=patient, start=freed.start + timedelta(days=9)
                )
                entry = WaitlistEntry.objects.create(
                    patient=patient, procedure_type=clinic["tfesi"], physician=clinic["lee"], appointment=held
                )
                WaitlistOffer.objects.create(
                    entry=entry,
                    freed_by=freed,
                    start=freed.start,
                    physician=clinic["lee"],
                    room=clinic["fluoro1"],
                )

        fill(2)
        desk.get(reverse("waitlist"))  # the first request after logging in also writes the session
        with CaptureQueriesContext(connection) as two:
            desk.get(reverse("waitlist"))
        fill(20)
        with django_assert_num_queries(len(two)):
            response = desk.get(reverse("waitlist"))
        assert len(response.context["offers"]) == 20 and len(response.context["entries"]) == 20


class TestAddPage:
    def test_from_an_appointment_the_procedure_is_prefilled_and_the_booking_linked(self, desk, clinic):
        later = book(clinic, patient=1)
        page = desk.get(reverse("waitlist-add"), {"appointment": later.pk})
        assert page.context["form"].initial["procedure_type"] == clinic["tfesi"].pk
        response = desk.post(
            reverse("waitlist-add"),
            {
                "patient": clinic["patients"][1].pk,
                "appointment": later.pk,
                "procedure_type": clinic["tfesi"].pk,
                "notes": "Can come at short notice",
            },
        )
        assert response["Location"] == reverse("waitlist")
        entry = WaitlistEntry.objects.get()
        assert (entry.appointment, entry.notes, entry.physician) == (later, "Can come at short notice", None)

    def test_from_the_patient_page(self, desk, clinic):
        page = desk.get(reverse("waitlist-add"), {"patient": clinic["patients"][2].pk})
        assert clinic["patients"][2].last_name in page.content.decode()

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"duplicate": True}, "is already on the waitlist for Lumbar TFESI"),
            ({"patient": "424242"}, "No patient with id “424242”"),
            ({"appointment": "424242"}, "No appointment with id “424242”"),
            ({"appointment": "other"}, "That appointment belongs to another patient."),
            ({"procedure_type": ""}, "Choose the procedure they are waiting for."),
        ],
    )
    def test_bad_input_names_the_problem_and_keeps_the_notes(self, desk, clinic, change, message):
        if change.pop("duplicate", False):
            wait(clinic, patient=1)
        before = WaitlistEntry.objects.count()
        data = {
            "patient": clinic["patients"][1].pk,
            "procedure_type": clinic["tfesi"].pk,
            "notes": "Mornings only",
        }
        if change.get("appointment") == "other":
            change["appointment"] = book(clinic, patient=4).pk
        data.update(change)
        response = desk.post(reverse("waitlist-add"), data)
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html and 'value="Mornings only"' in html
        assert WaitlistEntry.objects.count() == before

    def test_unknown_ids_in_the_address_are_not_found(self, desk, clinic):
        assert desk.get(reverse("waitlist-add"), {"appointment": 999999}).status_code == 404
        assert desk.get(reverse("waitlist-add"), {"patient": "x"}).status_code == 404


def test_cancelling_from_the_appointment_page_shows_the_offers_it_made(client, frontdesk, clinic):
    freed = book(clinic, patient=0)
    wait(clinic, patient=1)
    client.force_login(frontdesk)
    response = client.post(
        reverse("appointment-cancel", args=[freed.pk]), {"reason": "Patient unwell"}, follow=True
    )
    assert response.context["appt"].status == AppointmentStatus.CANCELLED
    assert [o.entry.patient for o in response.context["offers"]] == [clinic["patients"][1]]
    assert reverse("waitlist") in response.content.decode()
