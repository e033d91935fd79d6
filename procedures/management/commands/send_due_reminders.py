"""Run the reminders sweep in this process: send every due message now (or as of --at)."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from procedures.services.messaging import messages_send_due


class Command(BaseCommand):
    help = "Send due reminders and check-ins in-process (the beat sweep's work, for catching up by hand)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--at",
            help="Send as if it were this moment (ISO 8601, e.g. 2026-11-20T08:00:00-05:00). Default: now.",
        )

    def handle(self, *args, **options) -> None:
        at = timezone.now()
        if options["at"]:
            try:
                at = datetime.fromisoformat(options["at"])
            except ValueError as exc:
                raise CommandError(f"--at {options['at']!r} is not an ISO 8601 date and time.") from exc
            if timezone.is_naive(at):
                at = timezone.make_aware(at)
        outcomes = messages_send_due(now=at)
        total = sum(outcomes.values())
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items())) or "nothing due"
        self.stdout.write(f"{total} message(s) handled as of {at.isoformat()}: {summary}")
