from auditlog.context import auditlog_value


class AuditActorMixin:
    """Token-authenticated callers are only known once DRF has authenticated them, after the audit
    middleware ran; hand the caller to the audit context so log entries name who did it."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            context = auditlog_value.get()
        except LookupError:
            return
        if request.user and request.user.is_authenticated and context.get("actor") is None:
            context["actor"] = request.user
