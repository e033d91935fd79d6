from django.core.management.base import BaseCommand

from procedures.services.demo import DEMO_LOGINS, DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Load the demo clinic (staff logins, rooms, catalogue, patients, procedures). Safe to run again."

    def handle(self, *args, **options):
        result = demo_seed()
        self.stdout.write(
            f"Demo clinic ready: {result['procedure_types_added']} procedure types and "
            f"{result['appointments_added']} appointments added; {result['messages_sent']} due messages sent."
        )
        logins = ", ".join(DEMO_LOGINS)
        self.stdout.write(
            self.style.SUCCESS(f"Demo logins: {logins} — password “{DEMO_PASSWORD}” (demo data only).")
        )
