"""arrears explain CUSTOMER_REF [--as-of DATE] [--json]

For each open invoice of the customer: the policy and segment used (with
the segment's reason), the step that fired on the day or why none did, and
the next step with its date; then the customer's planned actions. Exit 2
for an unknown customer.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from arrears.ledger.models import Customer
from arrears.sequencing.selectors import Explanation, customer_explain

from ._dates import iso_date


def explanation_dict(e: Explanation) -> dict[str, Any]:
    run, d = e.run, e.decisions
    invoices = {inv.ref: inv for inv in run.invoices}
    return {
        "customer_ref": e.customer_ref,
        "as_of": e.as_of.isoformat(),
        "policy": {"name": run.policy.name, "version": run.policy.version},
        "segment": run.segment.segment.value,
        "segment_reason": run.segment.reason,
        "automation": run.facts.automation.value,
        "blocked_channels": {k.value: why for k, why in run.facts.blocked_channels.items()},
        "invoices": [
            {
                "invoice_ref": dec.invoice_ref,
                "due_date": invoices[dec.invoice_ref].due_date.isoformat(),
                "open_amount": str(invoices[dec.invoice_ref].open_amount),
                "currency": invoices[dec.invoice_ref].currency,
                "outcome": dec.outcome.value,
                "step": dec.step,
                "reason": dec.reason,
                "next_step": dec.next_step,
                "next_date": dec.next_date.isoformat() if dec.next_date else None,
            }
            for dec in d.invoices
        ],
        "planned_actions": e.planned,
    }


class Command(BaseCommand):
    help = "Explain what the collection policy does for one customer, and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_ref")
        parser.add_argument("--as-of", type=iso_date, default=None, help="day (default: today)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args: Any, customer_ref: str, json: bool, **options: Any) -> None:
        customer = Customer.objects.filter(ref=customer_ref).first()
        if customer is None:
            raise CommandError(f"customer_ref: unknown customer {customer_ref!r}", returncode=2)
        as_of = options["as_of"] or timezone.localdate()
        data = explanation_dict(customer_explain(customer=customer, as_of=as_of))
        if json:
            self.stdout.write(_dumps(data))
            return
        policy = data["policy"]
        lines = [
            f"{data['customer_ref']} on {data['as_of']}: policy {policy['name']} "
            f"v{policy['version']}, segment {data['segment']} ({data['segment_reason']}), "
            f"automation {data['automation']}",
        ]
        if data["blocked_channels"]:
            blocked = ", ".join(f"{k} {why}" for k, why in data["blocked_channels"].items())
            lines.append(f"  blocked channels: {blocked}")
        if not data["invoices"]:
            lines.append("  no open invoices")
        for inv in data["invoices"]:
            nxt = (
                f"; next: {inv['next_step']} on {inv['next_date'] or 'when allowed'}"
                if inv["next_step"]
                else "; no next step"
            )
            lines.append(
                f"  {inv['invoice_ref']} (due {inv['due_date']}, open {inv['open_amount']} "
                f"{inv['currency']}): {inv['outcome']} — {inv['reason']}{nxt}"
            )
        lines.append(f"planned actions: {len(data['planned_actions'])}")
        for a in data["planned_actions"]:
            lines.append(
                f"  #{a['id']} {a['planned_for']} {a['step']} ({a['stage']}, {a['kind']}) "
                f"for {', '.join(a['invoice_refs'])}"
            )
        self.stdout.write("\n".join(lines))


def _dumps(data: Any) -> str:
    import json as json_module

    return json_module.dumps(data)
