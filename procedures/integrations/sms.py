"""SMS backends, chosen by settings.SMS_BACKEND: console, file, twilio, or a dotted path to a class.

Every backend can `send` and, where the provider allows it, `lookup` a message it may already have taken:
after a worker died between handing a message over and recording it, the sweep asks before sending again,
so the patient gets it once."""

import base64
import hashlib
import hmac
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused the message for good (a wrong number, an unsubscribed recipient)."""


class SmsTemporaryError(SmsError):
    """Worth trying again later (network, provider outage, rate limit)."""


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, key: str, status_callback: str = "") -> str: ...

    def lookup(self, *, to: str, body: str, key: str, since: datetime) -> str | None: ...


class ConsoleSmsBackend:
    """Development: prints the message. Cannot look back, so a send cut off mid-way may print twice."""

    def send(self, *, to: str, body: str, key: str, status_callback: str = "") -> str:
        sys.stdout.write(f"--- SMS to {to} [{key}]\n{body}\n---\n")
        sys.stdout.flush()
        return key

    def lookup(self, *, to: str, body: str, key: str, since: datetime) -> str | None:
        return None


class FileSmsBackend:
    """One file per message, named by the message's key and written atomically (rename), so a message
    is either wholly there or not at all, and `lookup` can tell."""

    def __init__(self, path: str | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def _file(self, key: str) -> Path:
        return self.path / f"{key}.txt"

    def send(self, *, to: str, body: str, key: str, status_callback: str = "") -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".sending-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"To: {to}\nKey: {key}\n\n{body}\n")
        os.replace(tmp, self._file(key))
        return key

    def lookup(self, *, to: str, body: str, key: str, since: datetime) -> str | None:
        return key if self._file(key).exists() else None


class TwilioSmsBackend:
    """Twilio's REST API over plain HTTPS (no SDK needed). Status callbacks report delivery; inbound
    replies (STOP, C) arrive at the webhook in views/messaging.py."""

    def __init__(self) -> None:
        self.sid = settings.TWILIO_ACCOUNT_SID
        self.token = settings.TWILIO_AUTH_TOKEN
        self.sender = settings.TWILIO_FROM_NUMBER
        self.base = settings.TWILIO_API_BASE.rstrip("/")
        if not (self.sid and self.token and self.sender):
            raise SmsError("Twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER.")

    def _request(self, method: str, path: str, data: dict | None = None) -> dict:
        url = f"{self.base}/2010-04-01/Accounts/{self.sid}/{path}"
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method=method)
        auth = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        request.add_header("Authorization", f"Basic {auth}")
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code == 429 or exc.code >= 500:
                raise SmsTemporaryError(f"Twilio answered {exc.code}: {detail}") from exc
            raise SmsError(f"Twilio refused the message ({exc.code}): {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise SmsTemporaryError(f"Twilio could not be reached: {exc}") from exc

    def send(self, *, to: str, body: str, key: str, status_callback: str = "") -> str:
        data = {"To": to, "From": self.sender, "Body": body}
        if status_callback:
            data["StatusCallback"] = status_callback
        return self._request("POST", "Messages.json", data)["sid"]

    def lookup(self, *, to: str, body: str, key: str, since: datetime) -> str | None:
        # Twilio keeps no key of ours, so a message is "already taken" when one to the same number, with
        # the same text, was created since the claim.
        query = urllib.parse.urlencode({"To": to, "DateSent>": since.date().isoformat(), "PageSize": 50})
        for item in self._request("GET", f"Messages.json?{query}").get("messages", []):
            if item.get("body") == body:
                return item["sid"]
        return None


BACKENDS = {
    "console": ConsoleSmsBackend,
    "file": FileSmsBackend,
    "twilio": TwilioSmsBackend,
}


def sms_backend() -> SmsBackend:
    name = settings.SMS_BACKEND
    return (BACKENDS.get(name) or import_string(name))()


def twilio_signature_valid(*, url: str, params: dict[str, str], signature: str) -> bool:
    """Twilio signs each webhook: HMAC-SHA1 of the URL followed by the sorted POST parameters, in base64."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    expected = base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(expected, signature)
