"""The Twilio backend against a fake Twilio on a local port (the only thing mocked: a provider outside the
machine). Sends with the account's credentials, backs off on 5xx, gives up on 4xx, finds a message it
already took, and the webhooks accept only Twilio's signature: delivery reports, STOP and C."""

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from procedures.models import AppointmentStatus, Channel, Message, MessageKind, MessageStatus
from procedures.services.messaging import SendOutcome, message_send
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "secret-auth-token"


class FakeTwilio(BaseHTTPRequestHandler):
    requests: list[dict] = []
    answer = (201, {"sid": "SM0001", "status": "queued"})
    listed: list[dict] = []

    def _record(self, body: str) -> None:
        type(self).requests.append(
            {
                "method": self.command,
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "body": body,
            }
        )

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        self._record(body)
        status, payload = type(self).answer
        self._reply(status, payload)

    def do_GET(self):
        self._record("")
        self._reply(200, {"messages": type(self).listed})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio(settings):
    FakeTwilio.requests, FakeTwilio.listed = [], []
    FakeTwilio.answer = (201, {"sid": "SM0001", "status": "queued"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = SID, TOKEN
    settings.TWILIO_FROM_NUMBER = "+15550100000"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    settings.REMINDER_QUIET_START = settings.REMINDER_QUIET_END = "00:00"
    yield FakeTwilio
    server.shutdown()


def _message(kind=MessageKind.CONFIRMATION):
    patient = PatientFactory(consent_sms=True, consent_sms_at=timezone.now(), preferred_channel=Channel.SMS)
    appointment = AppointmentFactory(patient=patient, start=timezone.now() + timedelta(days=4))
    return Message.objects.create(
        patient=patient, appointment=appointment, kind=kind, plan_key=kind, due_at=timezone.now()
    )


def _signed_post(client, name: str, data: dict):
    url = "http://testserver" + reverse(name)
    payload = url + "".join(f"{key}{data[key]}" for key in sorted(data))
    signature = base64.b64encode(hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    return client.post(reverse(name), data, HTTP_X_TWILIO_SIGNATURE=signature)


def test_it_sends_with_the_account_credentials_and_a_status_callback(twilio):
    message = _message()
    assert message_send(message_id=message.pk) == SendOutcome.SENT
    (request,) = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    form = parse_qs(request["body"])
    assert form["To"] == [message.patient.phone] and form["From"] == ["+15550100000"]
    assert urlsplit(form["StatusCallback"][0]).path == "/sms/twilio/status/"
    message.refresh_from_db()
    assert message.provider_id == "SM0001" and message.status == MessageStatus.SENT


def test_a_provider_outage_is_retried_and_a_refusal_is_final(twilio):
    twilio.answer = (503, {"message": "Service unavailable"})
    message = _message()
    assert message_send(message_id=message.pk) == SendOutcome.RETRY
    message.refresh_from_db()
    assert message.status == MessageStatus.PLANNED and "503" in message.error
    twilio.answer = (400, {"message": "The 'To' number is not a valid phone number."})
    other = _message()
    assert message_send(message_id=other.pk) == SendOutcome.FAILED
    other.refresh_from_db()
    assert other.status == MessageStatus.FAILED and "not a valid phone number" in other.error


def test_after_a_worker_died_it_asks_twilio_before_sending_again(twilio):
    message = _message()
    body = "Your procedure is booked."
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claim_token="00000000-0000-0000-0000-000000000003",
        claimed_at=timezone.now() - timedelta(minutes=10),
        attempts=1,
        channel=Channel.SMS,
        recipient=message.patient.phone,
        body=body,
    )
    twilio.listed = [{"sid": "SM0099", "body": body, "to": message.patient.phone}]
    assert message_send(message_id=message.pk) == SendOutcome.SENT
    assert [r["method"] for r in twilio.requests] == ["GET"]  # looked up, not sent again
    message.refresh_from_db()
    assert message.provider_id == "SM0099"


def test_delivery_reports_need_twilios_signature(client, twilio):
    message = _message()
    message_send(message_id=message.pk)
    report = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    assert client.post(reverse("twilio-status"), report, HTTP_X_TWILIO_SIGNATURE="forged").status_code == 403
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert _signed_post(client, "twilio-status", report).status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None


def test_stop_and_c_by_text(client, twilio):
    message = _message(kind=MessageKind.CONFIRM_REQUEST)
    message_send(message_id=message.pk)
    reply = _signed_post(client, "twilio-inbound", {"From": message.patient.phone, "Body": "C"})
    assert reply["Content-Type"] == "text/xml" and b"you are confirmed" in reply.content
    message.appointment.refresh_from_db()
    assert message.appointment.status == AppointmentStatus.CONFIRMED
    reply = _signed_post(client, "twilio-inbound", {"From": message.patient.phone, "Body": "STOP"})
    assert b"no more texts" in reply.content
    message.patient.refresh_from_db()
    assert not message.patient.consent_sms
    unsigned = client.post(reverse("twilio-inbound"), {"From": message.patient.phone, "Body": "START"})
    assert unsigned.status_code == 403
