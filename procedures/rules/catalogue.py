"""The starting procedure catalogue. Clinic admins edit it afterwards (Clinic settings → Procedure types);
seeding never overwrites an edited row.

Sources (../shared/clinical-reference.md): CPT codes §9 (confirm with the clinic's coder); ASRA Pain
Medicine 2018 bleeding-risk classes §1; monitoring minutes §5 (institutional: 15 without sedation, 30 with).
Procedure minutes are scheduling defaults of this clinic, not a clinical standard: edit them freely.
"""

ASRA_2018 = "ASRA Pain Medicine 2018 (Narouze, RAPM 43:225)"
ASRA_2018_SECONDARY = "ASRA 2018 via secondary table — verify locally"
CLINIC_SETTING = "No published class — clinic setting, classified by site"

# name, cpt, family, region, purpose, imaging, contrast, procedure min, monitoring min, sedated min,
# bleeding risk, steroid, sedation allowed, source
CATALOGUE: list[dict] = [
    dict(name="Cervical interlaminar ESI", cpt_code="62321", family="esi_interlaminar", spinal_region="cervical",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=30,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Thoracic interlaminar ESI", cpt_code="62321", family="esi_interlaminar", spinal_region="thoracic",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=30,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Lumbar interlaminar ESI", cpt_code="62323", family="esi_interlaminar", spinal_region="lumbar",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=20,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Caudal ESI", cpt_code="62323", family="esi_interlaminar", spinal_region="sacral",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=20,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Cervical transforaminal ESI", cpt_code="64479", family="esi_transforaminal", spinal_region="cervical",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=30,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Lumbar transforaminal ESI", cpt_code="64483", family="esi_transforaminal", spinal_region="lumbar",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=20,
         bleeding_risk="intermediate", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Cervical medial branch block", cpt_code="64490", family="facet_mbb", spinal_region="cervical",
         purpose="diagnostic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=30,
         bleeding_risk="intermediate", uses_steroid=False, sedation_allowed=False, source_note=ASRA_2018),
    dict(name="Thoracic medial branch block", cpt_code="64490", family="facet_mbb", spinal_region="thoracic",
         purpose="diagnostic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=30,
         bleeding_risk="low", uses_steroid=False, sedation_allowed=False, source_note=ASRA_2018),
    dict(name="Lumbar medial branch block", cpt_code="64493", family="facet_mbb", spinal_region="lumbar",
         purpose="diagnostic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=30,
         bleeding_risk="low", uses_steroid=False, sedation_allowed=False, source_note=ASRA_2018),
    dict(name="Lumbar facet joint injection", cpt_code="64493", family="facet_ia", spinal_region="lumbar",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=30,
         bleeding_risk="low", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Cervical radiofrequency ablation", cpt_code="64633", family="facet_rfa", spinal_region="cervical",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=60,
         bleeding_risk="intermediate", uses_steroid=False, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Thoracic radiofrequency ablation", cpt_code="64633", family="facet_rfa", spinal_region="thoracic",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=60,
         bleeding_risk="low", uses_steroid=False, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Lumbar radiofrequency ablation", cpt_code="64635", family="facet_rfa", spinal_region="lumbar",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=False, procedure_minutes=60,
         bleeding_risk="low", uses_steroid=False, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Sacroiliac joint injection", cpt_code="27096", family="si_joint", spinal_region="sacroiliac",
         purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=20,
         bleeding_risk="low", uses_steroid=True, sedation_allowed=True, source_note=ASRA_2018),
    dict(name="Sacroiliac joint diagnostic block", cpt_code="27096", family="si_joint", spinal_region="sacroiliac",
         purpose="diagnostic", imaging="fluoroscopy", uses_contrast=True, procedure_minutes=20,
         bleeding_risk="low", uses_steroid=False, sedation_allowed=False, source_note=ASRA_2018),
    dict(name="Trigger point injections, 1–2 muscles", cpt_code="20552", family="trigger_point",
         spinal_region="musculoskeletal", purpose="therapeutic", imaging="none", uses_contrast=False,
         procedure_minutes=15, bleeding_risk="low", uses_steroid=False, sedation_allowed=False,
         source_note=ASRA_2018),
    dict(name="Trigger point injections, 3 or more muscles", cpt_code="20553", family="trigger_point",
         spinal_region="musculoskeletal", purpose="therapeutic", imaging="none", uses_contrast=False,
         procedure_minutes=20, bleeding_risk="low", uses_steroid=False, sedation_allowed=False,
         source_note=ASRA_2018),
    dict(name="Platelet-rich plasma injection, joint", cpt_code="0232T", family="regenerative",
         spinal_region="musculoskeletal", purpose="therapeutic", imaging="ultrasound", uses_contrast=False,
         procedure_minutes=45, bleeding_risk="low", uses_steroid=False, sedation_allowed=False,
         source_note=CLINIC_SETTING),
    dict(name="Platelet-rich plasma injection, epidural", cpt_code="0232T", family="regenerative",
         spinal_region="lumbar", purpose="therapeutic", imaging="fluoroscopy", uses_contrast=True,
         procedure_minutes=45, bleeding_risk="intermediate", uses_steroid=False, sedation_allowed=True,
         source_note=CLINIC_SETTING),
]

# clinical-reference.md §5: 15 minutes without sedation, 30 with (institutional; clinic-configurable).
MONITORING_MINUTES_DEFAULT = 15
MONITORING_MINUTES_SEDATED_DEFAULT = 30
