"""The floors every figure is compared with: the least a request through the whole stack (gunicorn, every
middleware, the session, authentication) costs on this machine at that moment. Mounted by
bench/urls.py only."""

import gc
import json
import sys

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures.models import Patient, PhysicianProfile


@require_GET
def floor(request: HttpRequest) -> HttpResponse:
    """A logged-in GET (the middleware insists on the login) that runs one primary-key query."""
    mrn = Patient.objects.filter(pk=request.GET.get("id", "1")).values_list("mrn", flat=True).first()
    return HttpResponse(mrn or "", content_type="text/plain")


@require_GET
def heap(request: HttpRequest) -> HttpResponse:
    """What this worker's Python heap holds after a full collection: the memory run reads it beside the
    RSS, because the RSS also moves with the allocator (a new high-water mark stays), and live objects
    that keep growing are what a leak looks like."""
    gc.collect()
    body = {"objects": len(gc.get_objects()), "blocks": sys.getallocatedblocks()}
    return HttpResponse(json.dumps(body), content_type="application/json")


class FloorWrite(APIView):
    """The booking API's floor: the same token authentication and permission, then the one thing every
    booking into a physician's day must do in turn — lock the physician's row — and one write, committed."""

    required_permissions = ["procedures.add_appointment"]

    def post(self, request):
        physician_id = int(request.data.get("physician", 0))
        with transaction.atomic():
            PhysicianProfile.objects.select_for_update().filter(pk=physician_id).values_list("pk").get()
            PhysicianProfile.objects.filter(pk=physician_id).update(npi=F("npi"))
        return Response({"physician": physician_id}, status=status.HTTP_201_CREATED)
