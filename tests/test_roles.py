"""procedures.roles.RolePermissionBackend: the same permissions as Django's ModelBackend, in one query, read
fresh on every request."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procedures.roles import Role, RolePermissionBackend

pytestmark = pytest.mark.django_db
User = get_user_model()


def fresh(user):
    """The user as the next request loads it: no permissions remembered."""
    return User.objects.get(pk=user.pk)


def test_every_role_gets_what_model_backend_gives(cast):
    # A permission given to the user directly, beside their role's.
    assert not fresh(cast["nurse"]).has_perm("procedures.delete_patient")
    cast["nurse"].user_permissions.add(Permission.objects.get(codename="delete_patient"))
    superuser = User.objects.create(username="root", is_superuser=True)
    inactive = User.objects.create(username="gone", is_active=False)
    inactive.groups.add(Group.objects.get(name=Role.PHYSICIAN))
    for user in [*cast.values(), superuser, inactive]:
        ours = RolePermissionBackend().get_all_permissions(fresh(user))
        django = ModelBackend().get_all_permissions(fresh(user))
        assert ours == django, user.username
    assert "procedures.delete_patient" in RolePermissionBackend().get_all_permissions(fresh(cast["nurse"]))
    assert len(RolePermissionBackend().get_all_permissions(fresh(superuser))) == Permission.objects.count()
    assert RolePermissionBackend().get_all_permissions(fresh(inactive)) == set()
    assert RolePermissionBackend().get_all_permissions(fresh(cast["outsider"])) == set()


def test_a_request_reads_the_permissions_once_in_one_query(cast):
    user = fresh(cast["frontdesk"])
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("procedures.add_appointment")
        assert user.has_perms(["procedures.view_patient", "procedures.change_appointment"])
        assert not user.has_perm("procedures.change_safetysettings")
    assert len(queries) == 1


def test_a_role_changed_in_the_admin_applies_on_the_next_request(cast):
    nurse = cast["nurse"]
    assert not fresh(nurse).has_perm("procedures.add_appointment")
    group = Group.objects.get(name=Role.NURSE)
    group.permissions.add(Permission.objects.get(codename="add_appointment"))
    assert fresh(nurse).has_perm("procedures.add_appointment")
    nurse.groups.remove(group)
    assert not fresh(nurse).has_perm("procedures.view_patient")
