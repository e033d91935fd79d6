"""The starting safety protocol, transcribed from ../shared/clinical-reference.md with each row's source.

Seeded once into the database (migration 0006); from then on the clinic admin reviews and edits it in
Clinic settings, and every edit bumps the row's version. Evidence marks: V read in the source; S seen
only in a secondary transcription (verify locally); "-" no published number (a clinic setting, left
unset so nothing pretends to be a standard). Where the source gives a range, the default is its more
cautious end and the row's note quotes the range.
"""

ASRA = "ASRA Pain Medicine 2018 (Narouze et al., RAPM 43:225–262)"
ASRA_SECONDARY = "ASRA 2018 via secondary table"
NO_SOURCE = "No published interval — clinic setting"
MEDICARE = "Medicare LCDs (Noridian L38801 facet, L39240 ESI, L39462 SI, L34211 trigger point)"
ASA_FASTING = "ASA preoperative fasting guideline 2017"

# generic name, class, brand names, asks indication, asks dose intent, needs INR
MEDICATIONS = [
    ("aspirin", "antiplatelet", "Bayer, Ecotrin", True, False, False),
    ("ibuprofen", "nsaid", "Advil, Motrin", False, False, False),
    ("diclofenac", "nsaid", "Voltaren", False, False, False),
    ("ketorolac", "nsaid", "Toradol", False, False, False),
    ("etodolac", "nsaid", "Lodine", False, False, False),
    ("indomethacin", "nsaid", "Indocin", False, False, False),
    ("naproxen", "nsaid", "Aleve, Naprosyn", False, False, False),
    ("meloxicam", "nsaid", "Mobic", False, False, False),
    ("nabumetone", "nsaid", "Relafen", False, False, False),
    ("oxaprozin", "nsaid", "Daypro", False, False, False),
    ("piroxicam", "nsaid", "Feldene", False, False, False),
    ("cilostazol", "antiplatelet", "Pletal", False, False, False),
    ("dipyridamole", "antiplatelet", "Persantine", False, False, False),
    ("clopidogrel", "antiplatelet", "Plavix", False, False, False),
    ("prasugrel", "antiplatelet", "Effient", False, False, False),
    ("ticagrelor", "antiplatelet", "Brilinta", False, False, False),
    ("warfarin", "vka", "Coumadin, Jantoven", False, False, True),
    ("acenocoumarol", "vka", "Sintrom", False, False, True),
    ("heparin, intravenous", "heparin", "unfractionated heparin drip", False, False, False),
    ("heparin, subcutaneous", "heparin", "unfractionated heparin 2–3 times a day", False, False, False),
    ("enoxaparin", "heparin", "Lovenox", False, True, False),
    ("dalteparin", "heparin", "Fragmin", False, False, False),
    ("dabigatran", "doac", "Pradaxa", False, False, False),
    ("rivaroxaban", "doac", "Xarelto", False, False, False),
    ("apixaban", "doac", "Eliquis", False, False, False),
    ("edoxaban", "doac", "Savaysa", False, False, False),
    ("fondaparinux", "anticoagulant", "Arixtra", False, False, False),
    ("sertraline", "ssri_snri", "Zoloft", False, False, False),
    ("fluoxetine", "ssri_snri", "Prozac", False, False, False),
    ("duloxetine", "ssri_snri", "Cymbalta", False, False, False),
    ("venlafaxine", "ssri_snri", "Effexor", False, False, False),
    ("fish oil (omega-3)", "supplement", "", False, False, False),
    ("ginkgo biloba", "supplement", "", False, False, False),
    ("garlic supplement", "supplement", "", False, False, False),
    ("vitamin E", "supplement", "", False, False, False),
]

NSAID_HALF_LIFE_DAYS = {  # high-risk hold: 5 half-lives, expressed in days [V]
    "ibuprofen": 1,
    "diclofenac": 1,
    "ketorolac": 1,
    "etodolac": 2,
    "indomethacin": 2,
    "naproxen": 4,
    "meloxicam": 4,
    "nabumetone": 6,
    "oxaprozin": 10,
    "piroxicam": 10,
}


def _rule(
    kind,
    value=None,
    *,
    inr=False,
    restart=None,
    restart_note="",
    evidence="V",
    source=ASRA,
    note="",
    renal=None,
):
    return {
        "hold_kind": kind,
        "hold_value": value,
        "hold_value_renal": renal,
        "requires_normal_inr": inr,
        "restart_hours": restart,
        "restart_note": restart_note,
        "evidence": evidence,
        "source": source,
        "note": note,
    }


def _same(rule: dict) -> dict:
    return {"high": rule, "intermediate": rule, "low": rule}


def hold_rules() -> list[tuple[str, str, str, dict]]:
    """(generic name, indication, dose intent, {risk class: rule fields}) for every seeded drug."""
    rows: list[tuple[str, str, str, dict]] = []
    r24 = {"restart": 24, "restart_note": "24 h"}
    rows.append(
        (
            "aspirin",
            "primary",
            "",
            {
                "high": _rule("days", 6, **r24),
                "intermediate": _rule("shared", **r24, note="Shared decision with the prescriber"),
                "low": _rule("none", **r24),
            },
        )
    )
    rows.append(
        (
            "aspirin",
            "secondary",
            "",
            {
                "high": _rule("shared", **r24, note="Shared decision with the prescriber"),
                "intermediate": _rule("shared", **r24, note="Shared decision with the prescriber"),
                "low": _rule("none", **r24),
            },
        )
    )
    for drug, days in NSAID_HALF_LIFE_DAYS.items():
        rows.append(
            (
                drug,
                "",
                "",
                {
                    "high": _rule("days", days, **r24, note="5 half-lives"),
                    "intermediate": _rule(
                        "none", **r24, note="Consider a hold in patients at high bleeding risk"
                    ),
                    "low": _rule("none", **r24),
                },
            )
        )
    rows.append(
        (
            "cilostazol",
            "",
            "",
            {
                "high": _rule("days", 2, **r24),
                "intermediate": _rule("none", **r24),
                "low": _rule("none", **r24),
            },
        )
    )
    rows.append(
        (
            "dipyridamole",
            "",
            "",
            {
                "high": _rule("days", 2, restart_note="not given in the source"),
                "intermediate": _rule("none"),
                "low": _rule("none"),
            },
        )
    )
    shared_low = "Usually no hold: shared decision with the prescriber"
    rows.append(
        (
            "warfarin",
            "",
            "",
            {
                "high": _rule("days", 5, inr=True, restart=6, restart_note="6 h"),
                "intermediate": _rule("days", 5, inr=True, restart=6, restart_note="6 h"),
                "low": _rule("shared", restart=6, restart_note="6 h", note=shared_low),
            },
        )
    )
    rows.append(
        (
            "acenocoumarol",
            "",
            "",
            {
                "high": _rule("days", 3, inr=True, **r24),
                "intermediate": _rule("days", 3, inr=True, **r24),
                "low": _rule("shared", **r24, note=shared_low),
            },
        )
    )
    rows.append(("heparin, intravenous", "", "", _same(_rule("hours", 6, restart=2, restart_note="2 h"))))
    rows.append(
        (
            "heparin, subcutaneous",
            "",
            "",
            {
                "high": _rule("hours", 24, restart=6, restart_note="6 h"),
                "intermediate": _rule("hours", 6, restart=2, restart_note="2 h"),
                "low": _rule("hours", 6, restart=2, restart_note="2 h"),
            },
        )
    )
    lmwh_restart = {"restart": 24, "restart_note": "12–24 h (default: 24 h)"}
    lmwh_low_restart = {"restart": 4, "restart_note": "4 h after a low-risk procedure"}
    rows.append(
        (
            "enoxaparin",
            "",
            "prophylactic",
            {
                "high": _rule("hours", 12, **lmwh_restart),
                "intermediate": _rule("hours", 12, **lmwh_restart),
                "low": _rule("hours", 12, **lmwh_low_restart),
            },
        )
    )
    for drug, intent in (("enoxaparin", "therapeutic"), ("dalteparin", "")):
        rows.append(
            (
                drug,
                "",
                intent,
                {
                    "high": _rule("hours", 24, **lmwh_restart),
                    "intermediate": _rule("hours", 24, **lmwh_restart),
                    "low": _rule("hours", 24, **lmwh_low_restart),
                },
            )
        )

    def secondary(days, *, note="", renal=None, restart_note="24 h"):
        fields = {"evidence": "S", "source": ASRA_SECONDARY, "restart": 24, "restart_note": restart_note}
        return {
            "high": _rule("days", days, note=note, renal=renal, **fields),
            "intermediate": _rule("days", days, note=note, renal=renal, **fields),
            "low": _rule("shared", note="Shared decision with the prescriber", **fields),
        }

    rows.append(("clopidogrel", "", "", secondary(7, restart_note="12–24 h (default: 24 h)")))
    rows.append(("prasugrel", "", "", secondary(10, note="Source: 7–10 days (default: 10)")))
    rows.append(("ticagrelor", "", "", secondary(5)))
    rows.append(
        (
            "dabigatran",
            "",
            "",
            secondary(
                5, renal=6, note="Source: 4–5 days, 5–6 with impaired kidney function (defaults: 5 and 6)"
            ),
        )
    )
    for drug in ("rivaroxaban", "apixaban", "edoxaban"):
        rows.append((drug, "", "", secondary(3)))
    rows.append(("fondaparinux", "", "", secondary(4)))
    for drug in (
        "sertraline",
        "fluoxetine",
        "duloxetine",
        "venlafaxine",
        "fish oil (omega-3)",
        "ginkgo biloba",
        "garlic supplement",
        "vitamin E",
    ):
        rows.append(
            (
                drug,
                "",
                "",
                _same(
                    _rule(
                        "unset",
                        evidence="-",
                        source=NO_SOURCE,
                        note="The 2018 edition discusses these; the clinic decides",
                    )
                ),
            )
        )
    return rows


# family, purpose, fields [S]
COVERAGE_RULES = [
    ("facet_mbb", "diagnostic", {"max_sessions_12_months": 4, "min_pain_weeks_before_first": 12}),
    ("facet_ia", "therapeutic", {"max_sessions_12_months": 4, "min_pain_weeks_before_first": 12}),
    (
        "facet_rfa",
        "therapeutic",
        {
            "max_sessions_12_months": 2,
            "min_pain_weeks_before_first": 12,
            "diagnostic_blocks_required": 2,
            "diagnostic_min_relief_percent": 80,
            "diagnostic_min_gap_days": 14,
            "repeat_min_relief_percent": 50,
            "repeat_min_relief_weeks": 26,
        },
    ),
    (
        "esi_interlaminar",
        "",
        {
            "max_sessions_12_months": 4,
            "min_pain_weeks_before_first": 4,
            "min_conservative_care_weeks": 4,
            "repeat_min_relief_percent": 50,
            "repeat_min_relief_weeks": 12,
        },
    ),
    (
        "esi_transforaminal",
        "",
        {
            "max_sessions_12_months": 4,
            "min_pain_weeks_before_first": 4,
            "min_conservative_care_weeks": 4,
            "repeat_min_relief_percent": 50,
            "repeat_min_relief_weeks": 12,
        },
    ),
    (
        "si_joint",
        "diagnostic",
        {
            "max_sessions_12_months": 2,
            "min_pain_weeks_before_first": 12,
            "min_conservative_care_weeks": 4,
        },
    ),
    (
        "si_joint",
        "therapeutic",
        {
            "max_sessions_12_months": 4,
            "min_pain_weeks_before_first": 12,
            "min_conservative_care_weeks": 4,
            "diagnostic_blocks_required": 1,
            "diagnostic_min_relief_percent": 75,
            "repeat_min_relief_percent": 50,
            "repeat_min_relief_weeks": 12,
        },
    ),
    (
        "trigger_point",
        "",
        {"max_sessions_12_months": 3, "repeat_min_relief_percent": 50, "repeat_min_relief_weeks": 6},
    ),
]

# Families counted together against one session limit (an ESI is an ESI, whatever the approach).
COUNT_TOGETHER = {"esi_interlaminar": "esi", "esi_transforaminal": "esi"}

# name, per-session ceiling mg [S], source
STEROIDS = [
    ("triamcinolone", 80, "ESI coverage checklists (secondary) — verify locally"),
    ("betamethasone", 12, "ESI coverage checklists (secondary) — verify locally"),
    ("dexamethasone", 15, "ESI coverage checklists (secondary) — verify locally"),
    ("methylprednisolone", None, ""),
]
