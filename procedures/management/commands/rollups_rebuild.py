"""Rebuild the outcomes dashboard's and the RFA board's rollup tables from the source tables."""

import time

from django.core.management.base import BaseCommand

from procedures.services.rollups import rollups_kept, rollups_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every rollup row (outcomes dashboard, RFA pathway board) from appointments, records, pain "
        "scores and follow-ups. Needed only after a bulk load with triggers off or a change to the outcome "
        "windows: day to day, triggers and the beat sweep keep the rollups current."
    )

    def handle(self, *args, **options) -> None:
        if not rollups_kept():
            self.stdout.write("This database keeps no rollups (SQLite): the dashboard computes live.")
            return
        started = time.monotonic()
        rows = rollups_rebuild()
        self.stdout.write(f"Rollups rebuilt: {rows:,} procedures in {time.monotonic() - started:.1f} s.")
