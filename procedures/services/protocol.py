"""Loads the starting safety protocol (procedures/rules/safety.py) into the database: missing rows only,
so a clinic's edits are never overwritten. Runs from migration 0006 with the historical models, and again
from seed_demo (a no-op once loaded). Edits by the clinic admin go through hold_rule_update, which versions
each row."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from procedures import models
from procedures.rules.safety import COVERAGE_RULES, MEDICATIONS, STEROIDS, hold_rules

# What a clinic may change on a protocol row; version, updated_at and updated_by follow the edit.
HOLD_RULE_EDITABLE = frozenset(
    {
        "medication",
        "indication",
        "dose_intent",
        "risk_class",
        "hold_kind",
        "hold_value",
        "hold_value_renal",
        "requires_normal_inr",
        "restart_hours",
        "restart_note",
        "evidence",
        "source",
        "note",
    }
)
NOT_EDITABLE = "These fields of a hold rule cannot be edited: {names}."


def protocol_seed(*, apps=None) -> dict[str, int]:
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Medication = apps.get_model("procedures", "Medication")
    HoldRule = apps.get_model("procedures", "HoldRule")
    CoverageRule = apps.get_model("procedures", "CoverageRule")
    SteroidProduct = apps.get_model("procedures", "SteroidProduct")
    SafetySettings = apps.get_model("procedures", "SafetySettings")

    added = {"medications": 0, "hold_rules": 0, "coverage_rules": 0, "steroids": 0}
    for name, drug_class, brands, asks_indication, asks_dose_intent, needs_inr in MEDICATIONS:
        _, created = Medication.objects.get_or_create(
            generic_name=name,
            defaults={
                "drug_class": drug_class,
                "brand_names": brands,
                "asks_indication": asks_indication,
                "asks_dose_intent": asks_dose_intent,
                "needs_inr": needs_inr,
            },
        )
        added["medications"] += int(created)
    medications = {m.generic_name: m for m in Medication.objects.all()}
    for name, indication, dose_intent, by_risk in hold_rules():
        for risk_class, fields in by_risk.items():
            _, created = HoldRule.objects.get_or_create(
                medication=medications[name],
                indication=indication,
                dose_intent=dose_intent,
                risk_class=risk_class,
                defaults=fields,
            )
            added["hold_rules"] += int(created)
    for family, purpose, fields in COVERAGE_RULES:
        _, created = CoverageRule.objects.get_or_create(
            family=family,
            purpose=purpose,
            defaults={**fields, "source": "Medicare LCDs (defaults; payer-specific)", "evidence": "S"},
        )
        added["coverage_rules"] += int(created)
    for name, ceiling, source in STEROIDS:
        _, created = SteroidProduct.objects.get_or_create(
            name=name, defaults={"session_ceiling_mg": ceiling, "ceiling_source": source}
        )
        added["steroids"] += int(created)
    SafetySettings.objects.get_or_create(pk=1)
    return added


@transaction.atomic
def hold_rule_update(*, rule_id: int, fields: dict, actor: AbstractBaseUser | None) -> models.HoldRule:
    """Edit one protocol row: the row's version goes up and the editor is recorded, so every hold plan line
    names the version it was computed from. Validates the row (a kind and its value must agree) and raises
    django.core.exceptions.ValidationError, changing nothing, when it does not. An edit that changes nothing
    keeps the version. Plans already made keep their lines until they are next recomputed."""
    unknown = set(fields) - HOLD_RULE_EDITABLE
    if unknown:
        raise ValueError(NOT_EDITABLE.format(names=", ".join(sorted(unknown))))
    rule = models.HoldRule.objects.select_for_update().get(pk=rule_id)
    changed = {name: value for name, value in fields.items() if getattr(rule, name) != value}
    if not changed:
        return rule
    for name, value in changed.items():
        setattr(rule, name, value)
    rule.version += 1
    rule.updated_by = actor if actor is not None and actor.is_authenticated else None
    rule.full_clean()
    rule.save()
    return rule
