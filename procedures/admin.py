"""The clinic admin's screens for reference data (catalogue, rooms, bays, physicians). Clinical records
(patients, appointments) are edited through SpineDesk's own pages, which apply the services' rules."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from procedures.models import Heartbeat, PhysicianProfile, ProcedureRoom, ProcedureType, RecoveryBay


@admin.register(ProcedureType)
class ProcedureTypeAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "cpt_code",
        "family",
        "spinal_region",
        "purpose",
        "imaging",
        "procedure_minutes",
        "monitoring_minutes",
        "monitoring_minutes_sedated",
        "bleeding_risk",
        "sedation_allowed",
        "active",
    ]
    list_filter = ["family", "spinal_region", "purpose", "bleeding_risk", "active"]
    search_fields = ["name", "cpt_code"]
    show_auditlog_history_link = True


@admin.register(ProcedureRoom)
class ProcedureRoomAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["name", "has_fluoroscopy", "has_ultrasound", "active"]
    show_auditlog_history_link = True


@admin.register(RecoveryBay)
class RecoveryBayAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["name", "active"]
    show_auditlog_history_link = True


@admin.register(PhysicianProfile)
class PhysicianProfileAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["display_name", "user", "npi", "active"]
    raw_id_fields = ["user"]
    show_auditlog_history_link = True


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]
    readonly_fields = ["name", "beat_at"]
