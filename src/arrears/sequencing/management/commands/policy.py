"""arrears policy check|apply FILE.yaml
arrears policy split NAME --share PERCENT | arrears policy split --stop

``check`` exits 0 when the file is valid (linter warnings are printed on
stderr but do not fail it) and 2 listing every error as FILE:LINE: key:
reason on stderr. ``apply`` checks the same way, then stores the file as a
new version (unless it is the active one already) and activates it.
``split`` runs an applied policy NAME for PERCENT % of the customers without
a policy of their own (an A/B test; compare them with ``arrears report
effectiveness``); ``--stop`` ends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arrears.domain.policy_file import PolicyInvalid, Problem
from arrears.sequencing.services import (
    policy_apply,
    policy_check,
    policy_split_start,
    policy_split_stop,
)


class Command(BaseCommand):
    help = "Check a collection policy file, or apply it as the active policy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check", "apply", "split"])
        parser.add_argument("file", nargs="?", help="the policy file (split: a policy name)")
        parser.add_argument("--share", type=int, default=None, help="split: percent of customers")
        parser.add_argument("--stop", action="store_true", help="split: end the running split")

    def handle(self, *args: Any, action: str, file: str | None, **options: Any) -> None:
        if action == "split":
            self._split(file, options["share"], options["stop"])
            return
        if file is None:
            raise CommandError(f"policy {action}: give the policy file", returncode=2)
        path = Path(file)
        try:
            if action == "check":
                checked = policy_check(text=path.read_text(encoding="utf-8"), name=path.stem)
                self._warn(file, checked.warnings)
                self.stdout.write(
                    f"{file}: OK — policy {checked.policy.name}, "
                    f"{len(checked.policy.steps)} steps, {len(checked.warnings)} warning(s)"
                )
                return
            applied = policy_apply(path=path, actor_label=f"policy apply {path.name}")
        except OSError as exc:
            raise CommandError(f"{file}:0: file: {exc.strerror or exc}", returncode=2) from None
        except UnicodeDecodeError:
            raise CommandError(f"{file}:0: file: not UTF-8 text", returncode=2) from None
        except PolicyInvalid as exc:
            self._reject(file, exc.problems)
        self._warn(file, applied.warnings)
        v = applied.version
        if applied.changed:
            self.stdout.write(f"applied {v.name} v{v.version} from {file}; it is now active")
        else:
            self.stdout.write(f"unchanged: {v.name} v{v.version} is already active")

    def _split(self, name: str | None, share: int | None, stop: bool) -> None:
        if stop:
            stopped = policy_split_stop(actor_label="policy split")
            self.stdout.write("split stopped" if stopped else "no split was running")
            return
        if name is None or share is None:
            raise CommandError("policy split: give NAME and --share PERCENT", returncode=2)
        try:
            split = policy_split_start(
                variant_name=name, share_percent=share, actor_label="policy split"
            )
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(f"{split.share_percent}% of the customers now run {split.variant_name}")

    def _warn(self, file: str, warnings: list[Problem]) -> None:
        for problem in warnings:
            self.stderr.write(problem.format(file))

    def _reject(self, file: str, problems: list[Problem]) -> NoReturn:
        for problem in problems:
            self.stderr.write(problem.format(file))
        raise CommandError(f"{len(problems)} problem(s) in {file}", returncode=2)
