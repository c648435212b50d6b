"""arrears report aging [--as-of DATE] [--by customer|country] [--format table|json|csv]
arrears report metrics [--as-of DATE] [--period-days 90] [--format table|json|csv]
arrears report effectiveness [--from DATE] [--to DATE] [--window-days 14] [--format ...]
arrears report digest [--as-of DATE] [--send]

Per currency, never converted or added across currencies; as of any past
date, from the dated invoices and allocations (DESIGN.md §4).
"""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...exports import (
    aging_csv,
    aging_document,
    csv_write,
    metrics_csv,
    metrics_document,
)
from ...selectors import (
    BREAKDOWNS,
    Breakdown,
    aging_breakdown,
    aging_by_currency,
    metrics_by_currency,
)

MAX_PERIOD_DAYS = 3660
DEFAULT_PERIOD_DAYS = 90


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def as_of_date(text: str) -> date:
    # As domain.masterdata.iso_date, whose module would add the e-mail and
    # phone number validators to every report's start-up (80 ms).
    raw = text.strip()
    if not _ISO_DATE.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid date: {exc}") from None


def period_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_PERIOD_DAYS:
        raise argparse.ArgumentTypeError(f"{days} is not between 1 and {MAX_PERIOD_DAYS} days")
    return days


def _bad_input(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Aging or collection metrics per currency, as of any date."
    # A read-only report: the system checks would load the whole URL conf and
    # API first, half a second of every run (``arrears check`` runs them).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report", choices=["aging", "metrics", "effectiveness", "digest"])
        parser.add_argument(
            "--as-of", type=as_of_date, default=None, help="YYYY-MM-DD (default: today)"
        )
        parser.add_argument(
            "--period-days",
            type=period_days,
            default=None,
            help=f"metrics: the period ending on --as-of (default {DEFAULT_PERIOD_DAYS})",
        )
        parser.add_argument(
            "--by", choices=BREAKDOWNS, default=None, help="aging: per customer or country too"
        )
        parser.add_argument(
            "--from", dest="start", type=as_of_date, default=None, help="effectiveness: first day"
        )
        parser.add_argument(
            "--to", dest="end", type=as_of_date, default=None, help="effectiveness: last day"
        )
        parser.add_argument(
            "--window-days",
            type=period_days,
            default=14,
            help="effectiveness: days after a touch in which a response counts (default 14)",
        )
        parser.add_argument(
            "--send", action="store_true", help="digest: e-mail it to the managers now"
        )
        parser.add_argument("--format", choices=["table", "json", "csv"], default="table")

    def handle(
        self,
        *args: Any,
        report: str,
        as_of: date | None,
        period_days: int | None,
        by: Breakdown | None,
        format: str,
        **options: Any,
    ) -> None:
        day = as_of or timezone.localdate()
        if report == "digest":
            self._digest(day, options["send"])
            return
        if report == "effectiveness":
            end = options["end"] or day
            start = options["start"] or end - timedelta(days=(period_days or 90) - 1)
            if start > end:
                raise _bad_input(f"--from {start} is after --to {end}")
            self._effectiveness(start, end, options["window_days"], format)
            return
        if options["start"] or options["end"]:
            raise _bad_input("--from and --to apply to the effectiveness report only")
        if report == "aging":
            if period_days is not None:
                raise _bad_input("--period-days applies to the metrics report only")
            self._aging(day, by, format)
        else:
            if by is not None:
                raise _bad_input("--by applies to the aging report only")
            days = period_days or DEFAULT_PERIOD_DAYS
            if day.toordinal() - days < date.min.toordinal():
                raise _bad_input(f"--as-of {day} is too early for a period of {days} days")
            self._metrics(day, days, format)

    def _aging(self, as_of: date, by: Breakdown | None, format: str) -> None:
        aging = aging_by_currency(as_of=as_of)
        breakdown = aging_breakdown(as_of=as_of, by=by) if by else None
        if format == "json":
            document = aging_document(as_of=as_of, aging=aging, breakdown=breakdown, by=by)
            self.stdout.write(json.dumps(document, ensure_ascii=False))
        elif format == "csv":
            self._csv(*aging_csv(aging=aging, breakdown=breakdown, by=by))
        else:
            # rich only when a table is asked for: JSON and CSV start faster.
            from ...tables import aging_table

            self._print(aging_table(as_of, aging, breakdown, by))

    def _metrics(self, as_of: date, days: int, format: str) -> None:
        metrics = metrics_by_currency(as_of=as_of, period_days=days)
        if format == "json":
            document = metrics_document(as_of=as_of, period_days=days, metrics=metrics)
            self.stdout.write(json.dumps(document, ensure_ascii=False))
        elif format == "csv":
            self._csv(*metrics_csv(metrics=metrics))
        else:
            from ...tables import metrics_table

            self._print(metrics_table(as_of, days, metrics))

    def _digest(self, as_of: date, send: bool) -> None:
        from ...digest import digest_figures, digest_message, digest_recipients

        recipients = digest_recipients()
        message = digest_message(digest_figures(as_of=as_of), recipients)
        if not send:
            self.stdout.write(str(message.body), ending="")
            return
        if not recipients:
            raise CommandError("no manager has an e-mail address (or set ARREARS_DIGEST_TO)")
        message.send()
        self.stdout.write(f"sent to {', '.join(recipients)}")

    def _effectiveness(self, start: date, end: date, window: int, format: str) -> None:
        from ...effectiveness import effectiveness
        from ...exports import effectiveness_csv

        effects = effectiveness(start=start, end=end, window_days=window)
        rows = [e.as_dict() for e in effects]
        if format == "json":
            document = {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "window_days": window,
                "steps": rows,
            }
            self.stdout.write(json.dumps(document, ensure_ascii=False))
            return
        header, lines = effectiveness_csv(effects)
        if format == "csv":
            self._csv(header, lines)
            return
        from ...tables import effectiveness_table

        self._print(effectiveness_table(start, end, window, effects))

    def _csv(self, header: list[str], rows: list[list[str]]) -> None:
        out = io.StringIO()
        csv_write(out, header, rows)
        self.stdout.write(out.getvalue(), ending="")

    def _print(self, text: str) -> None:
        self.stdout.write(text, ending="")
