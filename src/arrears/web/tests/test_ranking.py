"""The worklist's ranks: computed in bulk, stored in the parts the days do
not move (TaskRank), read in order."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arrears.comms.models import Task, TaskStatus
from arrears.ledger.importers import rows_import
from arrears.ledger.models import Customer
from arrears.sequencing.services import customer_policy_set
from arrears.web import ranking, worklist
from arrears.web.models import TaskRank
from arrears.web.ranking import SEGMENT_WEIGHTS, tasks_rank
from arrears.web.worklist import worklist_page, worklist_ranked

from .staffdata import Staff, call_task, customers_create, users_create

pytestmark = pytest.mark.django_db

NEW = SEGMENT_WEIGHTS["new"]  # customers the daily run has not seen yet


@pytest.fixture
def staff() -> Staff:
    return users_create()


def _load(kind: str, rows: list[dict[str, str]]) -> None:
    rows_import(kind, [(f"{kind}.csv:{n}", r) for n, r in enumerate(rows, 2)], actor_label="test")


def _customer(ref: str, invoices: list[tuple[str, str, date]]) -> Customer:
    """A customer with invoices (amount, currency, due date), refs REF-1, REF-2…"""
    _load("customers", [{"customer_ref": ref, "name": ref, "country": "US"}])
    _load(
        "invoices",
        [
            {
                "invoice_ref": f"{ref}-{n}",
                "customer_ref": ref,
                "issue_date": (due - timedelta(days=30)).isoformat(),
                "due_date": due.isoformat(),
                "amount": amount,
                "currency": currency,
            }
            for n, (amount, currency, due) in enumerate(invoices, 1)
        ],
    )
    return Customer.objects.get(ref=ref)


def _pay(customer: Customer, invoice_ref: str, amount: str) -> None:
    _load(
        "payments",
        [
            {
                "payment_ref": f"P-{invoice_ref}",
                "customer_ref": customer.ref,
                "received_on": timezone.localdate().isoformat(),
                "amount": amount,
                "currency": "USD",
                "invoice_ref": invoice_ref,
            }
        ],
    )


def _stored(task: Task) -> tuple[Decimal | None, date | None]:
    rank = TaskRank.objects.filter(task=task).first()
    return (rank.risk, rank.since) if rank is not None else (None, None)


def test_ranking_stores_what_the_days_do_not_move(staff: Staff) -> None:
    today = timezone.localdate()
    a, b, c = customers_create(3, today=today)
    tasks = [call_task(a, to=staff.ann), call_task(b, to=None)]
    done = call_task(c, to=staff.ann)
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE)

    assert tasks_rank(as_of=today) == 2
    # a: its invoice C000-1, 100.00 due 40 days ago; b: C001-1, 200.00, 41 days.
    assert _stored(tasks[0]) == (Decimal("100.00") * NEW, today - timedelta(days=40))
    assert _stored(tasks[1]) == (Decimal("200.00") * NEW, today - timedelta(days=41))
    assert _stored(done) == (None, None)
    assert tasks_rank(as_of=today) == 0  # nothing changed, nothing written
    Task.objects.filter(pk=tasks[0].pk).update(status=TaskStatus.DONE)
    tasks_rank(as_of=today)
    assert _stored(tasks[0]) == (None, None)  # a closed task's rank is dropped


def test_the_figures_follow_the_documented_rules(staff: Staff) -> None:
    today = timezone.localdate()

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    two = _customer("TWO", [("100.00", "USD", ago(10)), ("50.00", "USD", ago(30))])
    mixed = _customer("MIX", [("10.00", "USD", ago(5)), ("20.00", "EUR", ago(8))])
    paid = _customer("PAID", [("70.00", "USD", ago(20)), ("40.00", "USD", ago(3))])
    current = _customer("CUR", [("500.00", "USD", today + timedelta(days=5))])
    customer_policy_set(customer=mixed, actor_label="test", segment="risky", segment_reason="r")
    _pay(paid, "PAID-1", "70.00")
    one = call_task(two, to=staff.ann, refs=["TWO-1"])  # one of two overdue
    both = call_task(mixed, to=staff.ann, refs=["MIX-1", "MIX-2", "MIX-2"])
    fallback = call_task(paid, to=staff.ann, refs=["PAID-1"])  # paid: the overdue count
    nothing = call_task(current, to=staff.ann, refs=[])  # nothing overdue
    items = {i.task.pk: i for i in worklist_page(owner=staff.ann).items}

    figures = {
        pk: (i.amount_at_risk, i.currencies, i.days_past_due, i.weight, i.priority)
        for pk, i in items.items()
    }
    assert figures == {
        one.pk: (Decimal("100.00"), ["USD"], 10, NEW, Decimal("100.00") * 10 * NEW),
        both.pk: (Decimal("30.00"), ["EUR", "USD"], 8, 3, Decimal("30.00") * 8 * 3),
        fallback.pk: (Decimal("40.00"), ["USD"], 3, NEW, Decimal("40.00") * 3 * NEW),
        nothing.pk: (Decimal(0), [], 0, NEW, Decimal(0)),
    }
    # The list's order (from the database) is the rows' priority (from Python).
    assert list(items) == sorted(items, key=lambda pk: -items[pk].priority)


def test_the_days_moving_on_reorder_the_list_without_ranking_again(staff: Staff) -> None:
    now = timezone.now()
    today = timezone.localdate(now)
    big = _customer("BIG", [("1000.00", "USD", today - timedelta(days=2))])
    old = _customer("OLD", [("100.00", "USD", today - timedelta(days=30))])
    tasks = [call_task(big, to=staff.ann), call_task(old, to=staff.ann)]
    # Today 1000 * 2 < 100 * 30; in two days 1000 * 4 > 100 * 32.
    assert [i.customer for i in worklist_page(owner=staff.ann, now=now).items] == [old, big]
    stored = [_stored(t) for t in tasks]
    later = worklist_page(owner=staff.ann, now=now + timedelta(days=2)).items
    assert [i.customer for i in later] == [big, old]
    assert [i.priority for i in later] == [Decimal("1000.00") * 4 * NEW, Decimal("100") * 32 * NEW]
    assert [_stored(t) for t in tasks] == stored


def test_ranking_works_in_chunks_of_a_fixed_few_queries(
    staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = timezone.localdate()
    monkeypatch.setattr(ranking, "RANK_CHUNK", 2)
    tasks = [call_task(c, to=staff.ann) for c in customers_create(5, today=today)]
    with CaptureQueriesContext(connection) as ctx:
        assert tasks_rank(as_of=today) == 5
    # Closed tasks' ranks dropped, the ids, then per chunk of 2: rows, own
    # invoices' sums, paid history, the write.
    assert len(ctx.captured_queries) == 2 + 3 * 4
    assert all(_stored(t)[0] is not None for t in tasks)


def test_pages_and_the_export_share_one_order_most_urgent_first(
    staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = customers_create(25, today=timezone.localdate())
    for c in customers:
        call_task(c, to=staff.ann)
    first, second = worklist_page(owner=staff.ann), worklist_page(owner=staff.ann, page=2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (25, 2, 20, 5)
    assert not first.truncated
    paged = [i.task.pk for i in first.items + second.items]
    priorities = [i.priority for i in first.items + second.items]
    assert priorities == sorted(priorities, reverse=True)
    # Customer i owes 100 * (i + 1) at 40 + i days: the last is the most urgent.
    assert first.items[0].customer == customers[-1]
    assert [i.task.pk for i in worklist_ranked(owner=staff.ann)] == paged
    monkeypatch.setattr(worklist, "MAX_EXPORTED", 10)
    assert worklist_page(owner=staff.ann).truncated
    assert [i.task.pk for i in worklist_ranked(owner=staff.ann)] == paged[:10]


def test_equal_priorities_list_the_earlier_due_task_first(staff: Staff) -> None:
    [a] = customers_create(1, today=timezone.localdate())
    later, earlier = call_task(a, to=staff.ann), call_task(a, to=staff.ann)
    Task.objects.filter(pk=earlier.pk).update(due_at=earlier.due_at - timedelta(hours=1))
    assert [i.task.pk for i in worklist_page(owner=staff.ann).items] == [earlier.pk, later.pk]


def test_a_payment_shows_in_the_row_at_once_and_moves_the_task_after_the_run(
    staff: Staff,
) -> None:
    small, big = customers_create(2, today=timezone.localdate())
    for c in (small, big):
        call_task(c, to=staff.ann)
    assert [i.customer for i in worklist_page(owner=staff.ann).items] == [big, small]
    _pay(big, f"{big.ref}-1", "200.00")
    items = worklist_page(owner=staff.ann).items
    assert [i.customer for i in items] == [big, small]  # the stored rank
    assert items[0].amount_at_risk == 0  # the ledger now
    assert tasks_rank(as_of=timezone.localdate()) == 1  # as after the daily run
    assert [i.customer for i in worklist_page(owner=staff.ann).items] == [small, big]


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("run", *args, stdout=out)
    return out.getvalue()


def test_the_run_command_ranks_the_open_tasks_unless_dry(staff: Staff) -> None:
    tasks = [call_task(c, to=staff.ann) for c in customers_create(4, today=timezone.localdate())]
    _run("--dry-run")
    assert not Task.objects.filter(rank__isnull=False).exists()
    part = _run("--partition", "1/2")
    odd = {t.pk for t in tasks if t.customer_id % 2 == 1}
    assert set(Task.objects.filter(rank__isnull=False).values_list("pk", flat=True)) == odd
    assert f"; {len(odd)} worklist ranks updated in" in part
    _run()
    assert not Task.objects.filter(status=TaskStatus.OPEN, rank__isnull=True).exists()


def test_an_unassigned_worklist_ranks_its_own_tasks(staff: Staff) -> None:
    a, b = customers_create(2, today=timezone.localdate())
    mine, nobodys = call_task(a, to=staff.ann), call_task(b, to=None)
    assert [i.task for i in worklist_page(owner=None).items] == [nobodys]
    assert _stored(nobodys)[0] is not None
    assert _stored(mine) == (None, None)  # ranked when its owner's list is read
