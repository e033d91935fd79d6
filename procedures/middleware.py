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
