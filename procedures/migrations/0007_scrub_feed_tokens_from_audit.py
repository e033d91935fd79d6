"""Physician feed tokens were written into the audit trail when profiles were created (before the field
was excluded). Remove them from existing entries, so reading the audit log never reveals a feed link."""

from django.db import migrations


def scrub(apps, schema_editor):
    LogEntry = apps.get_model("auditlog", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    try:
        profile_type = ContentType.objects.get(app_label="procedures", model="physicianprofile")
    except ContentType.DoesNotExist:
        return
    PhysicianProfile = apps.get_model("procedures", "PhysicianProfile")
    tokens = [t for t in PhysicianProfile.objects.values_list("calendar_feed_token", flat=True) if t]
    for entry in LogEntry.objects.filter(content_type=profile_type).iterator():
        changed = False
        for token in tokens:
            if token in (entry.changes_text or ""):
                entry.changes_text = entry.changes_text.replace(token, "[removed]")
                changed = True
        for attribute in ("changes", "serialized_data"):
            data = getattr(entry, attribute, None)
            if isinstance(data, dict) and "calendar_feed_token" in data:
                data.pop("calendar_feed_token")
                changed = True
            if isinstance(data, dict) and isinstance(data.get("fields"), dict):
                if data["fields"].pop("calendar_feed_token", None) is not None:
                    changed = True
        if changed:
            entry.save(update_fields=["changes", "serialized_data", "changes_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0006_safety_protocol_data"),
        ("auditlog", "0017_add_actor_email"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(scrub, migrations.RunPython.noop)]
