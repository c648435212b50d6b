"""arrears token create --user NAME"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arrears.api.services import token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("--user", required=True, help="username the token acts as")
        parser.add_argument("--name", default="", help="what the token is for")

    def handle(self, *args: Any, user: str, name: str, **options: Any) -> None:
        try:
            key = token_create(username=user, name=name, actor_label="cli token create")
        except LookupError as exc:
            raise CommandError(
                f"--user: {exc} (create one with `arrears createsuperuser`)", returncode=2
            ) from None
        self.stdout.write(key)
