"""What every page's template gets: the clinic's name and phone, and what the menu shows of the user."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.functional import cached_property

from procedures.models import CallListItem, PhysicianProfile


class MenuFacts:
    """What the menu shows beyond the user's permissions: whether they have a physician profile ("My
    list"), their roles (the badges by their name) and, for those who work the call list, how many urgent
    calls are open. All three come from one small query, run the first time a template asks (never for API
    or plain responses).

    The urgent count is read live with the rest, never cached: a red flag raised a moment ago is in the
    nurses' menu on the very next page they open, and one just resolved is gone from it. Kept with a few
    seconds' lag in Redis it cost the web worker more than the subquery (a cache round trip against one
    more column of a query that runs anyway); the database counts it from call_urgent_open_idx."""

    def __init__(self, user) -> None:
        self._user = user

    @cached_property
    def _rows(self) -> list[tuple[str | None, bool, int | None]]:
        # Written out: building it through the ORM took ten times what the database takes to answer it.
        user_model = get_user_model()
        groups = user_model._meta.get_field("groups")
        through = groups.remote_field.through._meta
        urgent_sql, params = "NULL", []
        if self._user.has_perm("procedures.view_calllistitem"):
            urgent_sql = (
                f"(SELECT COUNT(*) FROM {CallListItem._meta.db_table} c "
                "WHERE c.resolved_at IS NULL AND c.urgent = %s)"
            )
            params = [True]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT g.name, "
                f"EXISTS (SELECT 1 FROM {PhysicianProfile._meta.db_table} p WHERE p.user_id = u.id), "
                f"{urgent_sql} "
                f"FROM {user_model._meta.db_table} u "
                f"LEFT JOIN {through.db_table} ug ON ug.{through.get_field('user').column} = u.id "
                f"LEFT JOIN {groups.related_model._meta.db_table} g "
                f"ON g.id = ug.{through.get_field('group').column} "
                "WHERE u.id = %s ORDER BY g.name",
                [*params, self._user.pk],
            )
            return cursor.fetchall()

    @property
    def is_physician(self) -> bool:
        return any(physician for _, physician, _ in self._rows)

    @property
    def group_names(self) -> list[str]:
        return [name for name, _, _ in self._rows if name is not None]

    @property
    def urgent_calls(self) -> int:
        return next((count for _, _, count in self._rows if count), 0)


def clinic(request) -> dict:
    context = {"clinic_name": settings.CLINIC_NAME, "clinic_phone": settings.CLINIC_PHONE}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["menu"] = MenuFacts(user)
    return context
