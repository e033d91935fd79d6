"""When can this patient safely have this procedure? Other capabilities register rules here (the
pre-procedure safety work adds blood-thinner holds: a 7-day hold cannot start yesterday). Slot search
and booking both ask, so a slot is never offered that the patient cannot be ready for."""

from collections.abc import Callable
from datetime import datetime

from procedures.models import Patient, ProcedureType

# A rule returns (earliest aware datetime the procedure may start, why), or None when it sets no limit.
ReadinessRule = Callable[..., tuple[datetime, str] | None]
_RULES: list[ReadinessRule] = []


def readiness_rule_register(rule: ReadinessRule) -> None:
    if rule not in _RULES:
        _RULES.append(rule)


def patient_earliest_safe_start(
    *, patient: Patient, procedure_type: ProcedureType, now: datetime
) -> tuple[datetime | None, str]:
    """The latest of all rules' limits, with the reason to show the clerk ("" when no rule limits)."""
    latest: datetime | None = None
    reason = ""
    for rule in _RULES:
        result = rule(patient=patient, procedure_type=procedure_type, now=now)
        if result is None:
            continue
        limit, why = result
        if latest is None or limit > latest:
            latest, reason = limit, why
    return latest, reason
