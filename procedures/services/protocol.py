"""Loads the starting safety protocol (procedures/rules/safety.py) into the database: missing rows only,
so a clinic's edits are never overwritten. Runs from migration 0006 with the historical models, and again
from seed_demo (a no-op once loaded)."""

from procedures.rules.safety import COVERAGE_RULES, MEDICATIONS, STEROIDS, hold_rules


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
