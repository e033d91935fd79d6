"""Staff roles are Django groups; what each may do is the set of model permissions below.
Pages and API endpoints check permissions, never group names, so a clinic can adjust a role in the admin."""

from typing import TYPE_CHECKING

from django.contrib.auth.backends import ModelBackend
from django.db import connection, models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    FRONT_DESK = "Front desk"
    NURSE = "Nurse"
    PHYSICIAN = "Physician"
    CLINIC_ADMIN = "Clinic admin"


_CATALOGUE_READ = [
    "view_medication",
    "view_holdrule",
    "view_coveragerule",
    "view_safetysettings",
    "view_steroidproduct",
    "view_proceduretype",
    "view_procedureroom",
    "view_recoverybay",
    "view_physicianprofile",
]
_CATALOGUE_WRITE = [
    f"{action}_{model}"
    for model in (
        "proceduretype",
        "procedureroom",
        "recoverybay",
        "physicianprofile",
        "workinghours",
        "scheduleexception",
        "medication",
        "holdrule",
        "coveragerule",
        "steroidproduct",
    )
    for action in ("add", "change", "delete")
] + ["change_safetysettings", "view_waitlistentry", "change_waitlistentry"]
# Everyone who looks after a patient keeps the medication list and the checklist current.
_CARE_TEAM = [
    "view_painscore",
    "add_painscore",
    "view_instrumentscore",
    "add_instrumentscore",
    "view_patientmedication",
    "add_patientmedication",
    "change_patientmedication",
    "view_holdplan",
    "view_checklistitem",
    "change_checklistitem",
    "view_safetyoverride",
    "view_workinghours",
    "view_scheduleexception",
    # Reminders: everyone sees what was sent and works the call list; the front desk resends failures.
    "view_message",
    "view_calllistitem",
    "change_calllistitem",
    "view_checkinresponse",
]

# Day of the procedure: observations, discharge and the post-block diary (the record is the physician's).
_DAY_OF_NURSING = [
    "view_procedurerecord",
    "view_vitalsentry",
    "add_vitalsentry",
    "view_discharge",
    "add_discharge",
    "view_blockdiaryentry",
    "add_blockdiaryentry",
    "view_followup",
]

# Every patient's results at once: physicians and clinic admins (the dashboard page, CSV and API).
OUTCOMES_DASHBOARD_PERMISSIONS = ("procedures.view_outcomes_dashboard",)


def outcomes_dashboard_allowed(user: "AbstractBaseUser | AnonymousUser") -> bool:
    return user.is_authenticated and any(user.has_perm(name) for name in OUTCOMES_DASHBOARD_PERMISSIONS)


# codenames in the "procedures" app, or "app_label.codename" for other apps
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.FRONT_DESK: [
        *_CATALOGUE_READ,
        *_CARE_TEAM,
        "view_patient",
        "add_patient",
        "change_patient",
        "view_appointment",
        "add_appointment",
        "change_appointment",
        "change_message",
    ],
    Role.NURSE: [
        *_CATALOGUE_READ,
        *_CARE_TEAM,
        *_DAY_OF_NURSING,
        "view_patient",
        "change_patient",
        "view_appointment",
        "change_appointment",
    ],
    Role.PHYSICIAN: [
        *_CATALOGUE_READ,
        *_CARE_TEAM,
        *_DAY_OF_NURSING,
        "add_procedurerecord",
        "change_procedurerecord",
        "confirm_hold_plan",
        "override_safety",
        "view_patient",
        "change_patient",
        "view_appointment",
        "add_appointment",
        "change_appointment",
        "overbook_physician",
        "view_outcomes_dashboard",
    ],
    Role.CLINIC_ADMIN: [
        *_CATALOGUE_READ,
        *_CARE_TEAM,
        "view_procedurerecord",
        "view_vitalsentry",
        "view_discharge",
        "view_blockdiaryentry",
        *_CATALOGUE_WRITE,
        "view_patient",
        "add_patient",
        "change_patient",
        "view_appointment",
        "add_appointment",
        "change_appointment",
        "view_heartbeat",
        "view_outcomes_dashboard",
        # Which optional outcome instruments the clinic collects (ODI, PGIC).
        "view_outcomesettings",
        "change_outcomesettings",
        "change_message",
        # Staff accounts, unlocking locked-out logins, and reading the audit trail.
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "auditlog.view_logentry",
    ],
}


class RolePermissionBackend(ModelBackend):
    """Django's ModelBackend, reading a user's permissions (their own and their roles') in one query.

    Every page and API call checks a permission, and a user object lives for one request, so the
    permissions are read on every request: ModelBackend builds two ORM queries for that, which cost a
    page a few milliseconds in query building alone. The answer is the same set as ModelBackend's (the
    tests compare them), read fresh each request, so a role changed in the admin applies at once."""

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None or user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = _permissions_of(user_obj.pk)
        return user_obj._perm_cache


def _permissions_of(user_id: int) -> set[str]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    user_model = get_user_model()
    own = user_model._meta.get_field("user_permissions").remote_field.through._meta
    groups = user_model._meta.get_field("groups").remote_field.through._meta
    granted = Group._meta.get_field("permissions").remote_field.through._meta
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ct.app_label, p.codename FROM {Permission._meta.db_table} p "
            f"JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id "
            f"WHERE p.id IN (SELECT {own.get_field('permission').column} FROM {own.db_table} "
            f"WHERE {own.get_field('user').column} = %s "
            f"UNION SELECT gp.{granted.get_field('permission').column} FROM {granted.db_table} gp "
            f"JOIN {groups.db_table} ug ON ug.{groups.get_field('group').column} = "
            f"gp.{granted.get_field('group').column} WHERE ug.{groups.get_field('user').column} = %s)",
            [user_id, user_id],
        )
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}
