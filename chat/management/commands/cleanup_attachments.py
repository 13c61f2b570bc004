"""Delete uploads that no message took within ATTACHMENTS_UNSENT_HOURS (run it from cron; each
upload also deletes a few on its way)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chat.actions.attachments import cleanup_unsent


class Command(BaseCommand):
    help = "Delete uploaded files that were never sent in a message."

    def handle(self, *args: Any, **options: Any) -> None:
        count = cleanup_unsent()
        self.stdout.write(f"Deleted {count} unsent upload(s).")
