"""The waitlist: patients who want an earlier date are offered time that a cancellation frees, but only
when they can still complete their preparation (holds) by then."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from procedures.models import (
    ACTIVE_STATUSES,
    Appointment,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from procedures.selectors.readiness import patient_earliest_safe_start
from procedures.services.booking import (
    BookingConflict,
    BookingInvalid,
    BookingRequest,
    appointment_book,
    appointment_reschedule,
)

ALREADY_WAITING = "{patient} is already on the waitlist for {procedure}."
OFFER_CLOSED = "This offer is no longer open."
OFFERS_PER_FREED_SLOT = 3


class WaitlistError(Exception):
    pass


def waitlist_add(
    *,
    patient,
    procedure_type,
    actor: AbstractBaseUser | None,
    physician=None,
    appointment=None,
    notes: str = "",
) -> WaitlistEntry:
    try:
        with transaction.atomic():
            return WaitlistEntry.objects.create(
                patient=patient,
                procedure_type=procedure_type,
                physician=physician,
                appointment=appointment,
                notes=notes.strip(),
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError as exc:
        raise WaitlistError(
            ALREADY_WAITING.format(patient=patient.full_name, procedure=procedure_type)
        ) from exc


def waitlist_remove(*, entry_id: int) -> None:
    WaitlistEntry.objects.filter(pk=entry_id, status=WaitlistStatus.WAITING).update(
        status=WaitlistStatus.REMOVED
    )


def waitlist_offer_freed_slot(*, appointment: Appointment) -> list[WaitlistOffer]:
    """Offer a cancelled appointment's time to the longest-waiting patients it suits: same procedure type,
    same physician if they asked for one, starting earlier than what they hold, and ready in time."""
    now = timezone.now()
    if appointment.start <= now:
        return []
    entries = (
        WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, procedure_type=appointment.procedure_type)
        .exclude(patient=appointment.patient)
        .select_related("patient", "procedure_type", "appointment")
        .order_by("created_at", "id")
    )
    offers = []
    for entry in entries:
        if entry.physician_id not in (None, appointment.physician_id):
            continue
        held = entry.appointment
        if held is not None and held.status in ACTIVE_STATUSES and held.start <= appointment.start:
            continue  # what they hold is already as early
        earliest, _ = patient_earliest_safe_start(
            patient=entry.patient, procedure_type=entry.procedure_type, now=now
        )
        if earliest is not None and earliest > appointment.start:
            continue  # cannot finish their preparation in time
        offer, created = WaitlistOffer.objects.get_or_create(
            entry=entry,
            freed_by=appointment,
            defaults={
                "start": appointment.start,
                "physician": appointment.physician,
                "room": appointment.room,
            },
        )
        if created:
            offers.append(offer)
        if len(offers) >= OFFERS_PER_FREED_SLOT:
            break
    return offers


def waitlist_offer_accept(*, offer_id: int, actor: AbstractBaseUser | None) -> Appointment:
    """Book the offered time for the patient (moving their later booking if they had one). If the slot was
    taken meanwhile, the offer is closed as taken and the clerk is told."""
    try:
        with transaction.atomic():
            offer = (
                WaitlistOffer.objects.select_for_update()
                .select_related("entry__patient", "entry__procedure_type")
                .get(pk=offer_id)
            )
            if offer.status != OfferStatus.OPEN:
                raise WaitlistError(OFFER_CLOSED)
            entry = offer.entry
            held = entry.appointment
            if held is not None and held.status in ACTIVE_STATUSES:
                appointment = appointment_reschedule(
                    appointment_id=held.pk,
                    start=offer.start,
                    physician=offer.physician,
                    room=offer.room,
                    actor=actor,
                )
            else:
                appointment = appointment_book(
                    request=BookingRequest(
                        patient=entry.patient,
                        procedure_type=entry.procedure_type,
                        physician=offer.physician,
                        start=offer.start,
                        room=offer.room,
                    ),
                    actor=actor,
                )
            _resolve(offer, OfferStatus.ACCEPTED, actor)
            entry.status = WaitlistStatus.BOOKED
            entry.save(update_fields=["status"])
            # The same freed time offered to others is gone now.
            for other in WaitlistOffer.objects.filter(
                freed_by=offer.freed_by, status=OfferStatus.OPEN
            ).exclude(pk=offer.pk):
                _resolve(other, OfferStatus.TAKEN, actor)
            return appointment
    except (BookingConflict, BookingInvalid) as exc:
        # The booking rolled back; closing the offer is its own transaction, so it sticks.
        with transaction.atomic():
            offer = WaitlistOffer.objects.select_for_update().get(pk=offer_id)
            if offer.status == OfferStatus.OPEN:
                _resolve(offer, OfferStatus.TAKEN, actor)
        raise WaitlistError(str(exc)) from exc


def waitlist_offer_decline(*, offer_id: int, actor: AbstractBaseUser | None) -> None:
    with transaction.atomic():
        offer = WaitlistOffer.objects.select_for_update().get(pk=offer_id)
        if offer.status != OfferStatus.OPEN:
            raise WaitlistError(OFFER_CLOSED)
        _resolve(offer, OfferStatus.DECLINED, actor)


def _resolve(offer: WaitlistOffer, status: str, actor) -> None:
    offer.status = status
    offer.resolved_at = timezone.now()
    offer.resolved_by = actor if actor is not None and actor.is_authenticated else None
    offer.save(update_fields=["status", "resolved_at", "resolved_by"])
