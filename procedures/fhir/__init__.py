"""FHIR R4 (4.0.1) export: `GET /fhir/metadata` and `GET /fhir/Patient/{id}/$everything`.

builders.py turns model rows into FHIR JSON (pure functions, no queries); views.py authenticates, fetches
through procedures.access (audited) and procedures.selectors.fhir, and answers application/fhir+json."""
