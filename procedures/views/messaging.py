"""The outbox (what was sent to whom, and what failed), and the SMS provider's webhooks."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from procedures.integrations.sms import twilio_signature_valid
from procedures.models import Channel, Message, MessageKind, MessageStatus
from procedures.selectors.messaging import outbox
from procedures.services import checkins, messaging


@permission_required("procedures.view_message", raise_exception=True)
def outbox_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    channel = request.GET.get("channel", "")
    day_text = request.GET.get("day", "")
    day = parse_date(day_text) if day_text else None
    problems = []
    if status and status not in MessageStatus.values:
        problems.append(f"“{status}” is not a message status.")
        status = ""
    if kind and kind not in MessageKind.values:
        problems.append(f"“{kind}” is not a kind of message.")
        kind = ""
    if channel and channel not in Channel.values:
        problems.append(f"“{channel}” is not a channel.")
        channel = ""
    if day_text and day is None:
        problems.append(f"“{day_text}” is not a date (use YYYY-MM-DD).")
    page = Paginator(outbox(status=status, kind=kind, channel=channel, day=day), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "procedures/messaging/outbox.html",
        {
            "page": page,
            "problems": problems,
            "filters": {"status": status, "kind": kind, "channel": channel, "day": day_text if day else ""},
            "statuses": MessageStatus.choices,
            "kinds": MessageKind.choices,
            "channels": Channel.choices,
            "can_resend": request.user.has_perm("procedures.change_message"),
        },
    )


@require_POST
@permission_required("procedures.change_message", raise_exception=True)
def message_resend_view(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=message_id)
    try:
        messaging.message_resend(message_id=message.pk, actor=request.user)
    except messaging.MessagingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{message.get_kind_display()} will be sent again now.")
    return redirect(request.POST.get("next") or "outbox")


def _twilio_verified(request: HttpRequest) -> bool:
    return twilio_signature_valid(
        url=request.build_absolute_uri(),
        params={key: request.POST[key] for key in request.POST},
        signature=request.headers.get("X-Twilio-Signature", ""),
    )


@login_not_required
@csrf_exempt
@require_POST
def twilio_status_view(request: HttpRequest) -> HttpResponse:
    if not _twilio_verified(request):
        return HttpResponseForbidden("Bad signature.")
    messaging.message_provider_status(
        provider_id=request.POST.get("MessageSid", ""),
        provider_status=request.POST.get("MessageStatus", ""),
        error=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)


@login_not_required
@csrf_exempt
@require_POST
def twilio_inbound_view(request: HttpRequest) -> HttpResponse:
    if not _twilio_verified(request):
        return HttpResponseForbidden("Bad signature.")
    reply = checkins.sms_inbound(from_number=request.POST.get("From", ""), body=request.POST.get("Body", ""))
    twiml = f"<Message>{escape(reply)}</Message>" if reply else ""
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{twiml}</Response>', content_type="text/xml"
    )
