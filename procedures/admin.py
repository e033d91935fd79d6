"""The clinic admin's screens for reference data (catalogue, rooms, bays, physicians). Clinical records
(patients, appointments) are edited through SpineDesk's own pages, which apply the services' rules."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin

from procedures.models import (
    Heartbeat,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    ScheduleException,
    WaitlistEntry,
    WaitlistOffer,
    WorkingHours,
)


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


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0
    ordering = ["weekday", "start_time"]


class ScheduleExceptionInline(admin.TabularInline):
    model = ScheduleException
    extra = 0
    fields = ["starts_at", "ends_at", "reason"]
    verbose_name = "leave"
    verbose_name_plural = "leave"


@admin.register(PhysicianProfile)
class PhysicianProfileAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["display_name", "user", "npi", "active"]
    raw_id_fields = ["user"]
    inlines = [WorkingHoursInline, ScheduleExceptionInline]
    show_auditlog_history_link = True


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["physician", "weekday", "start_time", "end_time"]
    list_filter = ["physician", "weekday"]


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(admin.ModelAdmin):
    """Leave (with a physician) and clinic closures (without one). Existing bookings are not moved:
    the day view shows them over the greyed time so the front desk can call the patients."""

    list_display = ["starts_at", "ends_at", "kind", "physician", "reason"]
    list_filter = ["kind", "physician"]
    date_hierarchy = "starts_at"
    search_fields = ["reason"]


class WaitlistOfferInline(admin.TabularInline):
    model = WaitlistOffer
    extra = 0
    can_delete = False
    fields = ["start", "physician", "room", "status", "offered_at", "resolved_at", "resolved_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    """Read mostly: entries are added, offered and closed from the waitlist page, which applies the rules."""

    list_display = ["patient", "procedure_type", "physician", "status", "created_at"]
    list_filter = ["status", "procedure_type", "physician"]
    search_fields = ["patient__last_name", "patient__first_name", "patient__mrn"]
    raw_id_fields = ["patient", "appointment"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [WaitlistOfferInline]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "beat_at"]
    readonly_fields = ["name", "beat_at"]
