"""Signed links a patient opens without logging in: their appointment (instructions, calendar file,
confirm or ask to move), a check-in, and opting out of a channel.

A link carries only ids, signed with SECRET_KEY and a purpose-specific salt, and a timestamp: a changed
character or an expired link fails verification and the page says so kindly, recording nothing. A check-in
link is single-use because a follow-up point accepts one answer."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

APPOINTMENT_SALT = "spinedesk.patient-link.appointment"
CHECKIN_SALT = "spinedesk.patient-link.check-in"
OPT_OUT_SALT = "spinedesk.patient-link.opt-out"
# An appointment link is useful until well after the day (after-care questions); not a clinical number.
APPOINTMENT_LINK_MAX_AGE = timedelta(days=120)
OPT_OUT_LINK_MAX_AGE = timedelta(days=365)


class LinkInvalid(Exception):
    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class OptOut:
    patient_id: int
    channel: str


def _load(token: str, *, salt: str, max_age: timedelta) -> dict:
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise LinkInvalid(expired=True) from exc
    except signing.BadSignature as exc:
        raise LinkInvalid(expired=False) from exc


def public_url(path: str) -> str:
    return f"{settings.SPINEDESK_PUBLIC_URL}{path}"


def appointment_link(*, appointment_id: int) -> str:
    token = signing.dumps({"a": appointment_id}, salt=APPOINTMENT_SALT)
    return public_url(reverse("patient-appointment", args=[token]))


def appointment_from_token(token: str) -> int:
    return int(_load(token, salt=APPOINTMENT_SALT, max_age=APPOINTMENT_LINK_MAX_AGE)["a"])


def checkin_link(*, followup_id: int) -> str:
    token = signing.dumps({"f": followup_id}, salt=CHECKIN_SALT)
    return public_url(reverse("patient-checkin", args=[token]))


def followup_from_token(token: str) -> int:
    return int(_load(token, salt=CHECKIN_SALT, max_age=timedelta(days=settings.CHECKIN_LINK_DAYS))["f"])


def opt_out_link(*, patient_id: int, channel: str) -> str:
    token = signing.dumps({"p": patient_id, "c": channel}, salt=OPT_OUT_SALT)
    return public_url(reverse("patient-opt-out", args=[token]))


def opt_out_from_token(token: str) -> OptOut:
    data = _load(token, salt=OPT_OUT_SALT, max_age=OPT_OUT_LINK_MAX_AGE)
    return OptOut(patient_id=int(data["p"]), channel=str(data["c"]))
