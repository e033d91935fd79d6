"""Derived tables that keep the outcomes dashboard and the RFA pathway board fast at network scale.

Nothing here is entered by anyone: every row is worked out from appointments, procedure records, pain scores
and follow-ups by services/rollups.py, with the same SQL the dashboard used to run live. On PostgreSQL,
triggers (migration 0015) put a patient on `RollupRefresh` whenever one of those rows of theirs changes; a
Celery beat sweep, and any dashboard read, brings that patient's rows up to date. Delete every row here and
`manage.py rollups_rebuild` makes them again from the source.

The foreign keys are not constraints in the database (db_constraint=False): the rows are derived, Django
still deletes them with what they point to, and checking a million keys at commit took share locks on every
appointment and patient that deadlocked with bookings during a rebuild. Nor do they get an index each
(db_index=False) where the table's own indexes lead with them or nothing looks rows up by them: every
refresh writes these rows."""

from django.db import models

from procedures.models.catalogue import ProcedureType
from procedures.models.patients import Patient
from procedures.models.scheduling import Appointment
from procedures.models.staff import PhysicianProfile

# The dashboard's timepoints (selectors/outcomes.OUTCOME_WINDOWS) by key: each has its own columns below.
WINDOW_KEYS = ("2w", "1m", "3m", "6m")
# What a procedure counts towards at each timepoint, as 0/1, so that a month's figure is a plain SUM.
WINDOW_FLAGS = ("scored", "assessed", "substantial", "moderate")


class RollupRefresh(models.Model):
    """A patient whose derived rows are out of date. Append-only (written by database triggers, so that no
    write path can forget it); the refresh takes rows in id order and deletes what it took."""

    id = models.BigAutoField(primary_key=True)
    patient_id = models.BigIntegerField()
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["patient_id"], name="rollup_refresh_patient_idx")]

    def __str__(self) -> str:
        return f"refresh patient {self.patient_id}"


def _window_fields() -> dict[str, models.Field]:
    fields: dict[str, models.Field] = {}
    for key in WINDOW_KEYS:
        # The latest report in the window (score and, when given, % relief).
        fields[f"w{key}_score"] = models.PositiveSmallIntegerField(null=True)
        fields[f"w{key}_pct"] = models.PositiveSmallIntegerField(null=True)
        for flag in WINDOW_FLAGS:
            fields[f"w{key}_{flag}"] = models.PositiveSmallIntegerField(default=0)
    return fields


class ProcedureOutcome(models.Model):
    """One done procedure (in recovery or discharged) and what the dashboard needs from it. `month` is the
    first day of the month of `start` in the clinic's zone: the key of the monthly sums."""

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        db_constraint=False,
        primary_key=True,
        related_name="outcome_rollup",
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    start = models.DateTimeField()
    month = models.DateField()
    ended = models.DateTimeField()
    baseline = models.PositiveSmallIntegerField(null=True)
    has_baseline = models.PositiveSmallIntegerField(default=0)
    complication = models.PositiveSmallIntegerField(default=0)
    fu_answered = models.PositiveIntegerField(default=0)
    fu_missed = models.PositiveIntegerField(default=0)
    # Kaplan–Meier: whole days from the end to the first report under 50 % relief (relief_lost) or else to
    # the last report whose relief can be worked out (censored); null with no such report.
    km_days = models.IntegerField(null=True)
    km_lost = models.BooleanField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["physician", "start"], name="po_physician_start_idx"),
            models.Index(fields=["procedure_type", "start"], name="po_type_start_idx"),
            models.Index(fields=["start"], name="po_start_idx"),
            # "Not yet due": procedures whose last window has not closed (a few months' worth), read from the
            # index alone.
            models.Index(
                fields=["ended"],
                name="po_recent_idx",
                include=["procedure_type", "physician", "start", *(f"w{key}_score" for key in WINDOW_KEYS)],
            ),
        ]

    def __str__(self) -> str:
        return f"outcome of appointment {self.appointment_id}"


for _name, _field in _window_fields().items():
    ProcedureOutcome.add_to_class(_name, _field)


class OutcomeSums(models.Model):
    """The sums of ProcedureOutcome rows that the dashboard reads (services/rollups.MONTH_SUMS says how
    each is summed), shared by the monthly and the all-time tables."""

    done = models.IntegerField(default=0)
    has_baseline = models.IntegerField(default=0)
    baseline_sum = models.IntegerField(default=0)
    complication = models.IntegerField(default=0)
    fu_answered = models.IntegerField(default=0)
    fu_missed = models.IntegerField(default=0)

    class Meta:
        abstract = True


for _key in WINDOW_KEYS:
    for _flag in WINDOW_FLAGS:
        OutcomeSums.add_to_class(f"w{_key}_{_flag}", models.IntegerField(default=0))


class OutcomeMonth(OutcomeSums):
    """The sums of ProcedureOutcome over one procedure type, physician and month."""

    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    month = models.DateField()

    class Meta(OutcomeSums.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["procedure_type", "physician", "month"], name="outcome_month_cell"
            ),
        ]
        indexes = [models.Index(fields=["physician", "month"], name="om_physician_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} type {self.procedure_type_id} physician {self.physician_id}"


class OutcomeTotal(OutcomeSums):
    """The same sums over every physician and month, per procedure type: the whole clinic in a few rows."""

    procedure_type = models.OneToOneField(
        ProcedureType, on_delete=models.CASCADE, db_constraint=False, primary_key=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"all time, type {self.procedure_type_id}"


class ReliefMonth(models.Model):
    """Kaplan–Meier counts: how many procedures of one type, physician and month lost relief (or were
    censored) on each day after the end."""

    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    physician = models.ForeignKey(
        PhysicianProfile, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    month = models.DateField()
    days = models.IntegerField()
    lost = models.BooleanField()
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["procedure_type", "physician", "month", "days", "lost"], name="relief_month_cell"
            ),
        ]
        indexes = [models.Index(fields=["physician", "month"], name="rm_physician_month_idx")]

    def __str__(self) -> str:
        return f"{self.n} × day {self.days} ({'lost' if self.lost else 'censored'})"


class ReliefTotal(models.Model):
    """The same counts over every physician and month: the whole clinic's curve in a few thousand rows."""

    procedure_type = models.ForeignKey(
        ProcedureType, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    days = models.IntegerField()
    lost = models.BooleanField()
    n = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["procedure_type", "days", "lost"], name="relief_total_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.n} × day {self.days} ({'lost' if self.lost else 'censored'})"


class RfaStage(models.TextChoices):
    ONE_BLOCK = "one_block", "One qualifying block"
    ELIGIBLE = "eligible", "Eligible for RFA — not yet booked"
    BOOKED = "booked", "RFA booked"
    # An RFA done in the region: due for a repeat once `repeat_from` has come.
    REPEAT = "repeat", "After an RFA"


class RfaPathwayState(models.Model):
    """Where one patient stands on the facet RFA pathway in one spinal region (selectors/outcomes.rfa_pathway
    works it out; the board lists these rows)."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    # The board's order, copied so that a column's first page comes off an index (a rename re-queues the
    # patient: the patients table has a trigger too).
    last_name = models.CharField(max_length=100)
    first_name = models.CharField(max_length=100)
    region = models.CharField(max_length=20)
    stage = models.CharField(max_length=10, choices=RfaStage)
    qualifying = models.PositiveSmallIntegerField(default=0)
    # The discharged diagnostic blocks in the region, oldest first.
    block_ids = models.JSONField(default=list)
    booked = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    last_rfa = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    relief_percent = models.PositiveSmallIntegerField(null=True)
    relief_weeks = models.FloatField(null=True)
    relief_meets_rule = models.BooleanField(default=False)
    repeat_from = models.DateField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "region"], name="rfa_state_once_per_region"),
        ]
        indexes = [
            models.Index(
                fields=["stage", "last_name", "first_name", "region", "id"], name="rfa_state_board_idx"
            ),
            models.Index(fields=["stage", "repeat_from"], name="rfa_state_due_idx"),
        ]

    def __str__(self) -> str:
        return f"patient {self.patient_id} {self.region}: {self.stage}"


__all__ = [
    "WINDOW_FLAGS",
    "WINDOW_KEYS",
    "OutcomeMonth",
    "OutcomeTotal",
    "ProcedureOutcome",
    "ReliefMonth",
    "ReliefTotal",
    "RfaPathwayState",
    "RfaStage",
    "RollupRefresh",
]
