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
        auditlog.register(models.PhysicianProfile)
        auditlog.register(models.ProcedureRoom)
        auditlog.register(models.RecoveryBay)
        post_migrate.connect(_sync_roles_after_migrate, sender=self, dispatch_uid="procedures.roles_sync")
