import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from procedures.services.scale import ScaleSeedRefused, scale_seed


class Command(BaseCommand):
    help = (
        "Bulk-load a clinic network's worth of synthetic history for benchmarks: for --patients 100000, about "
        "1,000,000 appointments over ten years for 40 physicians, 5,000,000 pain scores and 3,000,000 "
        "messages. PostgreSQL only, into an empty database (never a clinic's); running it again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=100_000)
        parser.add_argument("--physicians", type=int, default=40)
        parser.add_argument(
            "--years", type=float, default=None, help="History length (default: 10 per 100,000 patients)."
        )

    def handle(self, *args, patients: int, physicians: int, years: float | None, **options):
        started = time.perf_counter()
        try:
            result = scale_seed(patients=patients, physicians=physicians, years=years, log=self.stdout.write)
        except ScaleSeedRefused as exc:
            raise CommandError(str(exc)) from exc
        if result["created"]:
            vacuum_started = time.perf_counter()
            with connection.cursor() as cursor:
                # Fresh statistics for the planner, and a visibility map so that index-only scans work;
                # VACUUM cannot run inside a transaction (as under a test), ANALYZE can.
                cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
            self.stdout.write(
                f"  {'vacuum and analyze':24} {'':>16} {time.perf_counter() - vacuum_started:8.1f} s"
            )
        counts = ", ".join(f"{value:,} {name}" for name, value in result.items() if name != "created")
        self.stdout.write(f"{counts} ({time.perf_counter() - started:.0f} s)")
