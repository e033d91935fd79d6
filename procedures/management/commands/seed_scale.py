from django.core.management.base import BaseCommand

from procedures.services.scale import scale_seed


class Command(BaseCommand):
    help = "Bulk-load a large synthetic clinic for benchmarks (never on a production database)."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=10_000)
        parser.add_argument("--physicians", type=int, default=10)
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, patients: int, physicians: int, days: int, **options):
        result = scale_seed(patients=patients, physicians=physicians, days=days)
        self.stdout.write(
            f"Loaded {result['appointments']} appointments for {result['physicians']} physicians "
            f"and {result['patients']} patients."
        )
