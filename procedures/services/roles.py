from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from procedures.roles import ROLE_PERMISSIONS


def _permission_query(codenames: list[str]) -> tuple[Q, set[tuple[str, str]]]:
    wanted = set()
    for name in codenames:
        app_label, _, codename = name.rpartition(".")
        wanted.add((app_label or "procedures", codename))
    query = Q(pk__in=[])
    for app_label, codename in wanted:
        query |= Q(content_type__app_label=app_label, codename=codename)
    return query, wanted


@transaction.atomic
def roles_sync() -> None:
    """Create the staff groups and give each exactly the permissions its role lists (idempotent)."""
    for role_name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role_name)
        query, wanted = _permission_query(codenames)
        permissions = list(Permission.objects.filter(query).select_related("content_type"))
        found = {(p.content_type.app_label, p.codename) for p in permissions}
        missing = wanted - found
        # Permissions of another app appear only once that app has migrated; the next migrate completes them.
        if any(app == "procedures" for app, _ in missing):
            raise LookupError(f"Role {role_name!r} names unknown permissions: {sorted(missing)}")
        group.permissions.set(permissions)
