"""The daily run: actions planned from the policy, idempotent, partitioned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arrears.comms.models import Message, Task
from arrears.domain.policy import evaluate
from arrears.ledger.importers import ImportSummary
from arrears.ledger.models import Activity, Customer, Invoice
from arrears.sequencing.models import Action, ActionStatus
from arrears.sequencing.selectors import OpenInvoiceStream, PolicyBook, customer_runs
from arrears.sequencing.services import run_daily

from .conftest import AS_OF

pytestmark = pytest.mark.django_db

Importer = Callable[[str, str], ImportSummary]


def planned() -> set[tuple[str, tuple[str, ...], str, str, str]]:
    return {
        (a.customer.ref, tuple(a.invoice_refs), a.kind, a.step, a.planned_for.isoformat())
        for a in Action.objects.select_related("customer")
    }


EXPECTED = {
    ("C1", ("I1", "I2"), "email", "inquiry", "2025-03-12"),
    ("C2", ("I3",), "call", "white-glove-check-in", "2025-03-12"),
}


def test_the_run_plans_one_consolidated_action_per_customer_and_step(ledger: None) -> None:
    summary = run_daily(as_of=AS_OF)
    assert planned() == EXPECTED
    assert (summary.customers_evaluated, summary.actions_created) == (4, 2)
    assert summary.by_kind["email"] == 1 and summary.by_kind["call"] == 1
    inquiry = Action.objects.get(step="inquiry")
    assert inquiry.status == ActionStatus.PLANNED
    assert inquiry.idempotency_key == "C1|inquiry|2025-03-12"
    assert (inquiry.policy_name, inquiry.policy_version) == ("default", 0)
    assert inquiry.planned_at.isoformat() == "2025-03-12T13:00:00+00:00"  # 9:00 in New York
    assert inquiry.invoice_refs == ["I1", "I2"]
    logged = Activity.objects.filter(verb="action planned")
    assert logged.count() == 2
    entry = logged.get(subject_ref=str(inquiry.id))
    assert (entry.actor_label, entry.why, entry.customer) == (
        "policy run",
        inquiry.reason,
        inquiry.customer,
    )


def test_a_second_run_the_same_day_creates_nothing(ledger: None) -> None:
    run_daily(as_of=AS_OF)
    again = run_daily(as_of=AS_OF)
    assert (again.actions_created, again.already_planned) == (0, 2)
    assert Action.objects.count() == 2
    assert Activity.objects.filter(verb="action planned").count() == 2


def test_white_glove_gets_only_calls_and_paused_gets_nothing(ledger: None) -> None:
    for day in range(0, 60):
        run_daily(as_of=AS_OF + timedelta(days=day))
    kinds = set(Action.objects.filter(customer__ref="C2").values_list("kind", flat=True))
    assert kinds == {"call"}
    assert not Action.objects.filter(customer__ref="C3").exists()


def test_dry_run_writes_nothing(ledger: None) -> None:
    activities = Activity.objects.count()
    summary = run_daily(as_of=AS_OF, dry_run=True)
    assert summary.actions_created == 2
    assert not Action.objects.exists()
    assert Activity.objects.count() == activities


def test_two_partitions_together_plan_what_one_inline_run_plans(ledger: None) -> None:
    first = run_daily(as_of=AS_OF, partition=(0, 2))
    second = run_daily(as_of=AS_OF, partition=(1, 2))
    assert first.customers_evaluated + second.customers_evaluated == 4
    assert first.actions_created + second.actions_created == 2
    assert planned() == EXPECTED


def test_the_same_partition_twice_creates_no_duplicates(ledger: None) -> None:
    run_daily(as_of=AS_OF, partition=(1, 2))
    run_daily(as_of=AS_OF, partition=(1, 2))
    run_daily(as_of=AS_OF)
    assert planned() == EXPECTED
    assert Activity.objects.filter(verb="action planned").count() == 2


def test_a_run_after_a_crash_or_a_racing_worker_skips_existing_keys(
    ledger: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another worker planned C1's action after this run read its history:
    # the insert meets the unique key, skips it and counts it as planned.
    from arrears.sequencing import services

    real = customer_runs

    def racing(**kwargs: Any) -> Any:
        runs = real(**kwargs)
        if runs and not Action.objects.exists():
            other = services.RunSummary(AS_OF)
            first = runs[0]
            decided = evaluate(first.policy, first.facts, first.invoices, AS_OF)
            services._chunk_persist(runs[:1], [(first, a) for a in decided.actions], other)
            assert other.actions_created == 1
        return runs

    monkeypatch.setattr(services, "customer_runs", racing)
    summary = run_daily(as_of=AS_OF)
    assert (summary.actions_created, summary.already_planned) == (1, 1)
    assert planned() == EXPECTED
    # The racing worker's action got its message once, not a second time.
    assert Message.objects.count() + Task.objects.count() == 2
    assert Activity.objects.filter(verb="action planned").count() == 2


@pytest.mark.parametrize("partition", [None, (0, 2), (1, 2)])
def test_the_invoice_stream_hands_each_chunk_what_its_own_query_finds(
    ledger: None, importer: Importer, partition: tuple[int, int] | None
) -> None:
    # Today's balances (the stream's case), with one invoice partly paid.
    importer(
        "payments",
        "payment_ref,customer_ref,received_on,amount,currency,invoice_ref\n"
        "P1,C1,2025-03-12,40.00,USD,I1\n",
    )
    today, book = timezone.localdate(), PolicyBook()
    stream = OpenInvoiceStream(today, partition)
    after, seen = 0, {}
    while True:
        chunk = dict(as_of=today, book=book, after_id=after, limit=1, partition=partition)
        streamed = customer_runs(**chunk, invoice_stream=stream)  # type: ignore[arg-type]
        queried = customer_runs(**chunk)  # type: ignore[arg-type]
        assert [(r.id, r.invoices) for r in streamed] == [(r.id, r.invoices) for r in queried]
        if not streamed:
            break
        seen.update({inv.ref: inv.open_amount for r in streamed for inv in r.invoices})
        after = streamed[-1].id
    k, n = partition or (0, 1)
    mine = Invoice.objects.filter(status="open").annotate(part=F("customer_id") % n)
    assert set(seen) == set(mine.filter(part=k).values_list("ref", flat=True))
    assert partition is not None or len(seen) == 5
    if "I1" in seen:
        assert seen["I1"] == Decimal("60.00")


def test_planned_actions_of_paid_invoices_are_cancelled(ledger: None, importer: Importer) -> None:
    run_daily(as_of=AS_OF)
    importer(
        "payments",
        "payment_ref,customer_ref,received_on,amount,currency,invoice_ref\n"
        "P1,C1,2025-03-12,100.00,USD,I1\n",
    )
    run_daily(as_of=AS_OF)
    assert Action.objects.get(step="inquiry").status == ActionStatus.PLANNED  # I2 still open
    importer(
        "payments",
        "payment_ref,customer_ref,received_on,amount,currency,invoice_ref\n"
        "P2,C1,2025-03-12,250.00,USD,I2\n",
    )
    summary = run_daily(as_of=AS_OF)
    assert Action.objects.get(step="inquiry").status == ActionStatus.CANCELLED
    assert summary.cancelled == 1
    assert Activity.objects.filter(verb="action cancelled").count() == 1
    assert Action.objects.get(step="white-glove-check-in").status == ActionStatus.PLANNED


def test_a_customer_with_a_good_payment_history_is_good(ledger: None, importer: Importer) -> None:
    importer(
        "invoices",
        "invoice_ref,customer_ref,issue_date,due_date,amount,currency\n"
        + "".join(f"H{i},C4,2024-0{i}-01,2024-0{i}-28,10.00,USD\n" for i in range(4, 9)),
    )
    importer(
        "payments",
        "payment_ref,customer_ref,received_on,amount,currency,invoice_ref\n"
        # Paid 4, 3, 2, 1 and 0 days before the 28th.
        + "".join(f"HP{i},C4,2024-0{i}-2{i},10.00,USD,H{i}\n" for i in range(4, 9)),
    )
    (run,) = customer_runs(
        as_of=date(2025, 3, 12),
        book=PolicyBook(),
        ids=[Customer.objects.get(ref="C4").pk],
        balances_as_of=True,
    )
    assert run.segment.segment == "good", run.segment.reason
    assert run.segment.reason == "good: 5 invoices paid, 0 late, -2.0 days late on average"


def test_the_facts_of_a_chunk_take_the_same_queries_whatever_its_size(
    db: None, importer: Importer, django_assert_max_num_queries: Any
) -> None:
    def ledger_of(n: int, start: int) -> None:
        importer(
            "customers",
            "customer_ref,name,email,country\n"
            + "".join(f"Q{i},Q {i},q{i}@x.example,US\n" for i in range(start, start + n)),
        )
        importer(
            "invoices",
            "invoice_ref,customer_ref,issue_date,due_date,amount,currency\n"
            + "".join(
                f"QI{i},Q{i},2025-01-01,2025-01-31,10.00,USD\n" for i in range(start, start + n)
            ),
        )

    def queries(n: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            summary = run_daily(as_of=AS_OF)
        assert summary.actions_created == n
        return len(ctx.captured_queries)

    ledger_of(2, 0)
    small = queries(2)
    Action.objects.all().delete()
    ledger_of(40, 2)
    with django_assert_max_num_queries(small):
        run_daily(as_of=AS_OF + timedelta(days=0), chunk_size=1000, dry_run=False)
