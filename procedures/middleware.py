import time

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware
from rest_framework.views import APIView


class StaffLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Every page needs a logged-in user unless marked @login_not_required.

    API views are left to Django REST framework, which authenticates by token or session and answers
    401/403 as JSON instead of redirecting to the login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class SessionIdleMiddleware:
    """Keeps a logged-in session alive while it is used, writing it at most once a minute.

    A session expires SESSION_IDLE_MINUTES after it was last written. Writing it on every request (Django's
    SESSION_SAVE_EVERY_REQUEST) cost every page an UPDATE; writing it when the last write is over
    SESSION_REFRESH_SECONDS old keeps the idle limit within that margin of its setting (an idle session
    lasts between SESSION_IDLE_MINUTES less a minute and SESSION_IDLE_MINUTES). Listed after
    SessionMiddleware, so its change is saved, with a new expiry, on the way out."""

    KEY = "_idle_refreshed"

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # Only a session this request read and found in use: never create one for an anonymous visit.
        if session is None or not session.accessed or session.is_empty() or session.modified:
            return response
        now = int(time.time())
        if now - session.get(self.KEY, 0) >= settings.SESSION_REFRESH_SECONDS:
            session[self.KEY] = now
        return response
