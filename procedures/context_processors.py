from django.conf import settings


def clinic(request) -> dict:
    context = {"clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.has_perm("procedures.view_calllistitem"):
        from procedures.selectors.checkins import urgent_call_count

        # A callable: the query runs only when the menu is drawn (not for API or plain responses).
        context["urgent_calls"] = urgent_call_count
    return context
