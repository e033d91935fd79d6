"""/api/v1/messages/: what was (or will be) sent about an appointment, for the front desk's systems."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from procedures.access import appointment_get_for_user
from procedures.models import Message
from procedures.selectors.messaging import messages_for_appointment


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = [
            "id",
            "appointment",
            "patient",
            "kind",
            "channel",
            "due_at",
            "status",
            "attempts",
            "sent_at",
            "delivered_at",
            "provider_id",
            "error",
        ]
        read_only_fields = fields


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages of one appointment (`?appointment=<id>`), in due order: kind, channel, due and sent times,
    status, attempts, the provider's id and the last error."""

    serializer_class = MessageSerializer
    queryset = Message.objects.all()

    def get_queryset(self):
        if self.action != "list":
            return Message.objects.order_by("due_at", "id")
        appointment = self.request.query_params.get("appointment", "")
        if not appointment.isdigit():
            raise ValidationError({"appointment": ["Give the appointment's id: ?appointment=<id>."]})
        appointment_get_for_user(user=self.request.user, appointment_id=int(appointment))
        return messages_for_appointment(appointment_id=int(appointment))

    @extend_schema(
        parameters=[OpenApiParameter("appointment", int, required=True, description="The appointment's id")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
