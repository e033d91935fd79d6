"""The clinic admin's screens for reference data (catalogue, rooms, bays, physicians, the safety protocol).
Clinical records (patients, appointments, hold plans) are edited through SpineDesk's own pages, which apply
the services' rules."""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from procedures.models import (
    CoverageRule,
    Heartbeat,
    HoldRule,
    Medication,
    OutcomeSettings,
    PhysicianProfile,
    ProcedureRoom,
    ProcedureType,
    RecoveryBay,
    SafetySettings,
    ScheduleException,
    SteroidProduct,
    WaitlistEntry,
    WaitlistOffer,
    WorkingHours,
)
from procedures.selectors.outcomes import outcome_settings
from procedures.services.protocol import hold_rule_update


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


# --- The safety protocol: data with sources, proposed by the app and confirmed by physicians -------------

PROTOCOL_HELP = (
    "SpineDesk proposes each appointment’s holds from these rows; a physician confirms the plan or changes "
    "a line with a reason. Evidence V: read in the source. S: seen only in a secondary transcription — "
    "verify locally before relying on it. “—”: no published number — a clinic setting. Every edit raises "
    "the row’s version; plans name the version they were computed from."
)


@admin.register(Medication)
class MedicationAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = [
        "generic_name",
        "brand_names",
        "drug_class",
        "asks_indication",
        "asks_dose_intent",
        "needs_inr",
        "active",
    ]
    list_filter = ["drug_class", "asks_indication", "asks_dose_intent", "needs_inr", "active"]
    search_fields = ["generic_name", "brand_names"]
    show_auditlog_history_link = True


@admin.register(HoldRule)
class HoldRuleAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = [
        "medication",
        "indication",
        "dose_intent",
        "risk_class",
        "hold_kind",
        "hold_value",
        "restart_hours",
        "evidence",
        "source",
        "version",
    ]
    list_filter = ["risk_class", "hold_kind", "evidence", "medication__drug_class", "requires_normal_inr"]
    search_fields = ["medication__generic_name", "medication__brand_names", "source", "note"]
    list_select_related = ["medication"]
    readonly_fields = ["version", "updated_at", "updated_by"]
    fieldsets = [
        (
            None,
            {
                "description": PROTOCOL_HELP,
                "fields": ["medication", "indication", "dose_intent", "risk_class"],
            },
        ),
        (
            "Hold",
            {
                "fields": [
                    "hold_kind",
                    "hold_value",
                    "hold_value_renal",
                    "requires_normal_inr",
                    "restart_hours",
                    "restart_note",
                ]
            },
        ),
        ("Source", {"fields": ["evidence", "source", "note"]}),
        ("Version", {"fields": ["version", "updated_at", "updated_by"]}),
    ]
    change_list_template = "procedures/safety/admin_holdrule_change_list.html"
    show_auditlog_history_link = True

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "protocol_help": PROTOCOL_HELP})

    def save_model(self, request: HttpRequest, obj: HoldRule, form, change: bool) -> None:
        """Edits go through the protocol service, which raises the version and records the editor."""
        if not change:
            obj.version, obj.updated_by = 1, request.user
            super().save_model(request, obj, form, change)
            return
        saved = hold_rule_update(
            rule_id=obj.pk,
            fields={name: form.cleaned_data[name] for name in form.changed_data},
            actor=request.user,
        )
        obj.version, obj.updated_at, obj.updated_by = saved.version, saved.updated_at, saved.updated_by


@admin.register(CoverageRule)
class CoverageRuleAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = [
        "family",
        "purpose",
        "max_sessions_12_months",
        "min_pain_weeks_before_first",
        "min_conservative_care_weeks",
        "repeat_min_relief_percent",
        "repeat_min_relief_weeks",
        "diagnostic_blocks_required",
        "evidence",
        "source",
    ]
    list_filter = ["family", "purpose", "evidence"]
    search_fields = ["source"]
    show_auditlog_history_link = True


@admin.register(SteroidProduct)
class SteroidProductAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    list_display = ["name", "session_ceiling_mg", "ceiling_source", "mpe_per_mg"]
    search_fields = ["name"]
    show_auditlog_history_link = True


@admin.register(SafetySettings)
class SafetySettingsAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    """One row: the list goes straight to it; it cannot be added twice or deleted."""

    list_display = ["__str__", "inr_limit", "older_age_years", "arrival_minutes_before", "updated_at"]
    readonly_fields = ["updated_at"]
    show_auditlog_history_link = True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not SafetySettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: SafetySettings | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        row = SafetySettings.objects.first()
        if row is not None and self.has_view_or_change_permission(request, row):
            return HttpResponseRedirect(reverse("admin:procedures_safetysettings_change", args=[row.pk]))
        return super().changelist_view(request, extra_context)


@admin.register(OutcomeSettings)
class OutcomeSettingsAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    """One row, made (every instrument off) on first read: the list goes straight to it; it cannot be added
    or deleted."""

    list_display = ["__str__", "collect_odi", "collect_pgic", "updated_at"]
    readonly_fields = ["updated_at"]
    show_auditlog_history_link = True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OutcomeSettings | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if self.has_view_or_change_permission(request):
            row = outcome_settings()
            return HttpResponseRedirect(reverse("admin:procedures_outcomesettings_change", args=[row.pk]))
        return super().changelist_view(request, extra_context)
