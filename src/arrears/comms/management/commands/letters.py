"""arrears letters batch [--day DATE]
arrears letters track MESSAGE_ID TRACKING_NUMBER

``batch`` puts every letter waiting for the post room into one PDF and
prints its path (nothing on stdout, a note on stderr, when none is waiting).
``track`` records the tracking number of a letter sent by special delivery.
Exit 0 on success, 2 on bad input, 1 on other errors (DESIGN.md §4).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from arrears.comms.letters import (
    LetterError,
    PrintBatchError,
    letter_tracking_record,
    print_batch_create,
)
from arrears.comms.models import Message


def _bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Print batches of letters for the post room; tracking numbers of special delivery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["batch", "track"])
        parser.add_argument(
            "values", nargs="*", metavar="ARG", help="track: MESSAGE_ID TRACKING_NUMBER"
        )
        parser.add_argument("--day", default=None, help="batch: YYYY-MM-DD (default: today)")

    def handle(
        self, *args: Any, action: str, values: list[str], day: str | None, **options: Any
    ) -> None:
        if action == "batch":
            self._batch(values, day)
        else:
            self._track(values, day)

    def _batch(self, values: list[str], day_text: str | None) -> None:
        if values:
            raise _bad_input(f"batch takes no arguments, got {' '.join(values)!r}")
        try:
            day = date.fromisoformat(day_text) if day_text else timezone.localdate()
        except ValueError:
            raise _bad_input(f"--day: {day_text!r} is not an ISO date (YYYY-MM-DD)") from None
        try:
            batch = print_batch_create(day=day, actor_label="cli letters batch")
        except PrintBatchError as exc:
            raise CommandError(str(exc), returncode=1) from None
        if batch is None:
            self.stderr.write(f"no letters waiting to be printed on {day.isoformat()}")
            return
        try:
            path = batch.pdf.path
        except NotImplementedError:  # storage without local files
            path = batch.pdf.name
        self.stderr.write(f"print batch {batch.pk}: {batch.letters} letter(s)")
        self.stdout.write(path)

    def _track(self, values: list[str], day_text: str | None) -> None:
        if day_text is not None:
            raise _bad_input("--day belongs to batch, not track")
        if len(values) != 2:
            raise _bad_input("track takes MESSAGE_ID TRACKING_NUMBER")
        message_id, number = values
        if not message_id.isdigit():
            raise _bad_input(f"MESSAGE_ID: {message_id!r} is not a message id (a number)")
        message = Message.objects.filter(pk=int(message_id)).first()
        if message is None:
            raise _bad_input(f"MESSAGE_ID: no message {message_id}")
        try:
            recorded = letter_tracking_record(
                message=message, tracking_number=number, actor_label="cli letters track"
            )
        except LetterError as exc:
            raise _bad_input(str(exc)) from None
        self.stdout.write(f"message {recorded.pk}: tracking number {recorded.tracking_number}")
