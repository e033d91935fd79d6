"""Staff roles are Django groups; what each may do is the set of model permissions below.
Pages and API endpoints check permissions, never group names, so a clinic can adjust a role in the admin."""

from typing import TYPE_CHECKING

from django.db import models

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
