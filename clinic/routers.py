"""Database routing: the outcomes dashboard's and the RFA board's reads go to a read replica when one is
configured (DATABASE_REPLICA_URL), so that a network's heavy reporting reads never queue behind the
front desk's bookings on the primary. Everything else, and every write, stays on the primary."""

from django.conf import settings

REPLICA = "replica"
# The rollup tables (procedures/models/rollups.py): derived, read in bulk, and a few seconds of replica lag
# only delays a figure the dashboard already says may be a minute old.
REPORTING_MODELS = frozenset(
    {"procedureoutcome", "outcomemonth", "outcometotal", "reliefmonth", "relieftotal", "rfapathwaystate"}
)


class ReportingReplicaRouter:
    def db_for_read(self, model, **hints) -> str | None:
        if (
            REPLICA in settings.DATABASES
            and model._meta.app_label == "procedures"
            and model._meta.model_name in REPORTING_MODELS
        ):
            return REPLICA
        return None

    def db_for_write(self, model, **hints) -> str | None:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica holds the primary's data: a rollup row and its appointment are the same database.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool | None:
        return db != REPLICA
