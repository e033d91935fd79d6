from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles_after_migrate(sender, **kwargs) -> None:
    # Runs after django.contrib.auth has created this app's permissions (its handler connects first).
    from procedures.services.roles import roles_sync

    roles_sync()


class ProceduresConfig(AppConfig):
    name = "procedures"
    verbose_name = "SpineDesk procedures"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from procedures import models

        # Who created, changed (and, through access_log_*, viewed) each clinical record.
        auditlog.register(models.Patient)
        auditlog.register(models.Appointment)
        auditlog.register(models.ProcedureType)
        # The feed token is a secret link: never copy it into the audit trail.
        auditlog.register(models.PhysicianProfile, exclude_fields=["calendar_feed_token"])
        auditlog.register(models.ProcedureRoom)
        auditlog.register(models.RecoveryBay)
        for model in (
            models.PatientMedication,
            models.HoldPlan,
            models.HoldPlanLine,
            models.HoldRule,
            models.ChecklistItem,
            models.SafetyOverride,
            models.SafetySettings,
            models.CoverageRule,
            models.SteroidDose,
            models.SteroidProduct,
            models.Medication,
            models.WorkingHours,
            models.ScheduleException,
            models.WaitlistEntry,
            models.ProcedureRecord,
            models.VitalsEntry,
            models.Discharge,
            models.BlockDiaryEntry,
            models.FollowUp,
            models.PainScore,
            models.InstrumentScore,
            models.OutcomeSettings,
            models.WaitlistOffer,
            models.CheckInResponse,
            models.CallListItem,
        ):
            auditlog.register(model)
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="procedures.roles_sync")
        self._wire_capabilities()

    @staticmethod
    def _wire_capabilities() -> None:
        """Capabilities plug into the scheduling core here, in one visible place."""
        from procedures.models import AppointmentStatus
        from procedures.selectors.eligibility import relief_source_register
        from procedures.selectors.outcomes import documented_relief
        from procedures.selectors.readiness import readiness_rule_register
        from procedures.selectors.safety import earliest_start_for_holds
        from procedures.services.appointments import transition_applied_register, transition_guard_register
        from procedures.services.booking import after_booking_register
        from procedures.services.dayof import after_discharge_register
        from procedures.services.followup import followup_after_discharge
        from procedures.services.messaging import (
            messaging_after_booking,
            messaging_after_discharge,
            messaging_after_hold_plan,
            messaging_after_transition,
        )
        from procedures.services.safety import (
            checklist_gate,
            hold_plan_after_booking,
            hold_plan_changed_register,
        )

        readiness_rule_register(earliest_start_for_holds)
        after_booking_register(hold_plan_after_booking)
        transition_guard_register(to_status=AppointmentStatus.IN_PROCEDURE, guard=checklist_gate)
        after_discharge_register(followup_after_discharge)
        # Reminders follow every change: booking, moves and cancels, the hold plan, discharge, other status moves.
        after_booking_register(messaging_after_booking)
        hold_plan_changed_register(messaging_after_hold_plan)
        after_discharge_register(messaging_after_discharge)
        transition_applied_register(messaging_after_transition)
        relief_source_register(documented_relief)
