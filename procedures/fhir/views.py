"""The FHIR endpoints. They are DRF views so that they authenticate exactly as the API does (token or
session; 401 or 403, never a redirect to the login page), but they answer FHIR: application/fhir+json
whatever the Accept header, and every error as an OperationOutcome. They are left out of the OpenAPI
schema, which describes /api/v1/ only."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from procedures.access import patient_get_for_user
from procedures.api.base import AuditActorMixin
from procedures.api.serializers import ID_MAX
from procedures.fhir import builders
from procedures.selectors.fhir import patient_everything, sections_for_user

NO_PATIENT = "No patient with that id."
NO_SUCH_ENDPOINT = "This server offers only GET metadata and GET Patient/[id]/$everything."

# OperationOutcome issue types (http://hl7.org/fhir/R4/valueset-issue-type.html) for each HTTP error.
_ISSUE_CODES = {
    status.HTTP_401_UNAUTHORIZED: "login",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not-found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "not-supported",
}


class FhirJsonRenderer(JSONRenderer):
    media_type = builders.FHIR_MEDIA_TYPE
    format = "json"


def fhir_exception_handler(exc, context) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or NO_PATIENT)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a server error: Django's 500 handling, as everywhere else
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(exc.wait)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    body = builders.operation_outcome(
        code=_ISSUE_CODES.get(exc.status_code, "processing"), diagnostics=detail
    )
    return Response(body, status=exc.status_code, headers=headers)


def fhir_base(request) -> str:
    return request.build_absolute_uri(reverse("fhir-metadata")).removesuffix("/metadata")


class FhirView(AuditActorMixin, APIView):
    renderer_classes = [FhirJsonRenderer]
    http_method_names = ["get", "head"]
    schema = None  # not part of the /api/v1/ OpenAPI schema

    def get_exception_handler(self):
        return fhir_exception_handler

    def perform_content_negotiation(self, request, force=False):
        # FHIR JSON is the only format; a browser's text/html or a client's application/json gets it too.
        renderer = self.renderer_classes[0]()
        return renderer, renderer.media_type


class MetadataView(FhirView):
    """The CapabilityStatement. Public, as FHIR expects of /metadata: it says nothing about any patient."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(
            builders.capability_statement(base=fhir_base(request), clinic_name=settings.CLINIC_NAME)
        )


class PatientEverythingView(FhirView):
    """Patient/[id]/$everything. The read is audited like the patient page (procedures.access)."""

    required_permissions = ["procedures.view_patient"]

    def get(self, request, patient_id: int):
        if patient_id > ID_MAX:
            raise Http404(NO_PATIENT)
        patient = patient_get_for_user(user=request.user, patient_id=patient_id)
        everything = patient_everything(patient=patient, sections=sections_for_user(request.user))
        bundle = builders.everything_bundle(
            everything,
            base=fhir_base(request),
            self_url=request.build_absolute_uri(),
            timestamp=timezone.now(),
        )
        return Response(bundle)


class UnknownView(FhirView):
    """Anything else under /fhir/, whatever the method: a FHIR 404, not the site's HTML page."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(NO_SUCH_ENDPOINT)
