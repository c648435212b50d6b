"""arrears simulate --from DATE --to DATE [--policy FILE.yaml] [--out actions.csv] [--json]

Replays the collection policy on every day of the range against the
imported history: open amounts as of each day (payments and credit notes on
their real dates), the actions of earlier simulated days as executed
history. Nothing is sent or stored. ``--policy`` replays a candidate policy
file for every customer instead of the policies they run. ``--out`` writes every action as CSV
(the ``actions`` fields, ``status`` "simulated", ``id`` a sequence number);
``--json`` prints the summary as one JSON document. Exit 2 for bad dates.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arrears.domain.policy import Policy
from arrears.domain.policy_file import PolicyInvalid, Problem
from arrears.sequencing.selectors import ACTION_FIELDS
from arrears.sequencing.services import policy_check
from arrears.sequencing.simulation import SimulationSummary, simulate

from ._dates import iso_date
from .actions import csv_row


def _problems(file: Path, problems: list[Problem]) -> CommandError:
    return CommandError("\n".join(p.format(str(file)) for p in problems), returncode=2)


class Command(BaseCommand):
    help = "Replay the collection policy over past days; store and send nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", type=iso_date, required=True, metavar="DATE")
        parser.add_argument("--to", dest="end", type=iso_date, required=True, metavar="DATE")
        parser.add_argument("--out", type=Path, default=None, help="write the actions as CSV")
        parser.add_argument(
            "--policy", type=Path, default=None, help="a candidate policy file to replay instead"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def _candidate(self, file: Path | None) -> Policy | None:
        if file is None:
            return None
        try:
            return policy_check(text=file.read_text(encoding="utf-8"), name=file.stem).policy
        except OSError as exc:
            raise CommandError(f"{file}:0: file: {exc.strerror or exc}", returncode=2) from None
        except PolicyInvalid as exc:
            raise _problems(file, exc.problems) from None

    def handle(self, *args: Any, **options: Any) -> None:
        start, end, out = options["start"], options["end"], options["out"]
        if start > end:
            raise CommandError(
                f"--from {start.isoformat()} is after --to {end.isoformat()}", returncode=2
            )
        candidate = self._candidate(options["policy"])
        summary = SimulationSummary(start, end)
        actions = simulate(start=start, end=end, summary=summary, policy=candidate)
        if out is None:
            for _ in actions:
                pass
        else:
            try:
                f = out.open("w", encoding="utf-8", newline="")
            except OSError as exc:
                raise CommandError(f"{out}: cannot write: {exc.strerror}", returncode=2) from None
            with f:
                writer = csv.DictWriter(f, fieldnames=ACTION_FIELDS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(csv_row(a.as_row()) for a in actions)
        result = summary.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        steps = ", ".join(f"{n} {step}" for step, n in result["by_step"].items())
        share = result["paid_before_first_touch_share"]
        self.stdout.write(
            f"{result['from']} to {result['to']} ({result['days']} days): "
            f"{result['customers']} customers, {result['invoices']} invoices, "
            f"{result['actions']} actions" + (f" ({steps})" if steps else "") + "; "
            f"{result['touches_per_invoice']} touches per invoice, "
            + (f"{share:.1%} paid before the first touch, " if share is not None else "")
            + f"{result['invoices_reaching_escalation']} reached escalation"
            f" in {result['seconds']:.2f} s"
            + (f"; actions written to {out}" if out is not None else "")
        )
