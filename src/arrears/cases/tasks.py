"""Background work of the cases app, one pass at a time (``arrears worker``
runs it in every pass): post due webhook events, add the summary so far to
new escalation tasks, and record late payments for written-off invoices as
recoveries."""

from __future__ import annotations

from datetime import datetime

from .escalation import escalations_summarize
from .webhooks import webhooks_deliver
from .writeoff import recoveries_detect


def cases_pass(*, worker: str, now: datetime) -> dict[str, int]:
    """One pass; returns counts (webhooks sent, retried, failed; escalation
    tasks summarised; recoveries recorded)."""
    webhooks = webhooks_deliver(worker=worker, now=now)
    return {
        "webhooks_sent": webhooks.sent,
        "webhooks_retried": webhooks.retried,
        "webhooks_failed": webhooks.failed,
        "escalations_summarised": escalations_summarize(),
        "recoveries": recoveries_detect(),
    }
