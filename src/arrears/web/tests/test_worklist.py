"""The worklist: whose tasks, in which order, and working them in place."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from arrears.cases.models import Promise
from arrears.comms.models import Message, Task, TaskStatus
from arrears.sequencing.services import customer_policy_set
from arrears.web.ranking import SEGMENT_WEIGHTS
from arrears.web.worklist import worklist_page

from .staffdata import PASSWORD, Staff, call_task, customers_create, users_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Staff:
    return users_create()


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_only_my_open_tasks_due_today_and_not_snoozed_are_listed(staff: Staff) -> None:
    a, b, c, d, e = customers_create(5, today=timezone.localdate())
    mine = call_task(a, to=staff.ann)
    call_task(b, to=staff.bob)
    later = call_task(c, to=staff.ann)
    Task.objects.filter(pk=later.pk).update(due_at=timezone.now() + timedelta(days=2))
    snoozed = call_task(d, to=staff.ann)
    Task.objects.filter(pk=snoozed.pk).update(snoozed_until=timezone.now() + timedelta(hours=1))
    done = call_task(e, to=staff.ann)
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE)
    page = worklist_page(owner=staff.ann)
    assert [i.task.pk for i in page.items] == [mine.pk]


def test_priority_is_amount_at_risk_times_days_past_due_times_segment_weight(
    staff: Staff,
) -> None:
    today = timezone.localdate()
    small, big, risky = customers_create(3, today=today)
    # Overdue invoices: small 100.00 at 40 days, big 200.00 at 41, risky 300.00 at 42.
    for c in (small, big, risky):
        call_task(c, to=staff.ann)
    customer_policy_set(
        customer=risky, actor_label="test", segment="risky", segment_reason="two broken promises"
    )
    customer_policy_set(
        customer=small, actor_label="test", segment="good", segment_reason="pays on time"
    )
    customer_policy_set(
        customer=big, actor_label="test", segment="good", segment_reason="pays on time"
    )
    items = worklist_page(owner=staff.ann).items
    assert [i.customer.ref for i in items] == [risky.ref, big.ref, small.ref]
    top = items[0]
    assert top.amount_at_risk == Decimal("300.00")
    assert top.days_past_due == 42
    assert top.weight == SEGMENT_WEIGHTS["risky"] == 3
    assert top.priority == Decimal("300.00") * 42 * 3


def test_a_task_without_invoices_ranks_by_the_customers_overdue(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    call_task(c, to=staff.ann, refs=[])
    [item] = worklist_page(owner=staff.ann).items
    # Only the overdue invoice counts, not the one due in 10 days.
    assert item.amount_at_risk == Decimal("100.00")


def test_a_row_has_reason_contacts_with_links_invoices_and_touches(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    call_task(c, to=staff.ann)
    html = signed_in(staff.ann).get("/worklist/").content.decode()
    assert "inquire: 40 days past due" in html
    assert 'href="tel:+12025550000"' in html
    assert 'href="mailto:ap0@c.example.com"' in html
    assert "C000-1" in html and "C000-2" in html
    assert "Call script" in html and "/script/" in html
    assert "No touches yet." in html


def test_an_empty_worklist_says_so(staff: Staff) -> None:
    html = signed_in(staff.ann).get("/worklist/").content.decode()
    assert "Nothing due today" in html


def test_logging_a_promise_with_htmx_answers_the_row_and_pauses_reminders(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    task = call_task(c, to=staff.ann)
    promised_on = timezone.localdate() + timedelta(days=7)
    response = signed_in(staff.ann).post(
        f"/worklist/tasks/{task.pk}/done/",
        {"outcome": "promise", "promised_on": promised_on.isoformat(), "promised_amount": "100"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<article class="work closed"')
    assert "done: Spoke — promise to pay" in html
    task.refresh_from_db()
    assert (task.status, task.outcome, task.completed_by) == ("done", "promise", staff.ann)
    promise = Promise.objects.get(customer=c)
    assert (promise.promised_on, promise.amount, promise.currency) == (
        promised_on,
        Decimal("100"),
        "USD",
    )
    assert Message.objects.filter(customer=c, template_key="promise-confirmation").exists()


def test_a_promise_without_a_date_is_refused_in_the_row(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    task = call_task(c, to=staff.ann)
    response = signed_in(staff.ann).post(
        f"/worklist/tasks/{task.pk}/done/", {"outcome": "promise"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert "needs the promised date" in response.content.decode()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_snooze_until_tomorrow_nine_hides_the_task_today(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    task = call_task(c, to=staff.ann)
    response = signed_in(staff.ann).post(
        f"/worklist/tasks/{task.pk}/snooze/", {"until": "tomorrow"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "snoozed until" in response.content.decode()
    until = timezone.localtime(Task.objects.get(pk=task.pk).snoozed_until)
    assert (until.date(), until.hour, until.minute) == (
        timezone.localdate() + timedelta(days=1),
        9,
        0,
    )
    assert worklist_page(owner=staff.ann).items == []


def test_snooze_two_hours(staff: Staff) -> None:
    [c] = customers_create(1, today=timezone.localdate())
    task = call_task(c, to=staff.ann)
    before = timezone.now()
    signed_in(staff.ann).post(f"/worklist/tasks/{task.pk}/snooze/", {"until": "2h"})
    until = Task.objects.get(pk=task.pk).snoozed_until
    assert until is not None
    assert timedelta(hours=2) <= until - before < timedelta(hours=2, minutes=1)


def test_a_manager_sees_a_collectors_and_the_unassigned_worklists(staff: Staff) -> None:
    a, b = customers_create(2, today=timezone.localdate())
    call_task(a, to=staff.ann)
    call_task(b, to=None)
    mia = signed_in(staff.manager)
    assert a.name in mia.get(f"/worklist/?collector={staff.ann.pk}").content.decode()
    unassigned = mia.get("/worklist/?collector=unassigned").content.decode()
    assert b.name in unassigned and a.name not in unassigned
    assert mia.get("/worklist/?collector=999999").status_code == 404


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_worklist_query_count_does_not_grow_with_the_tasks(staff: Staff) -> None:
    today = timezone.localdate()
    first = customers_create(2, today=today, prefix="A")
    for c in first:
        call_task(c, to=staff.manager)
    mia = signed_in(staff.manager)
    few_new = _queries(mia, "/worklist/")  # ranks the new tasks first
    few = _queries(mia, "/worklist/")
    more = customers_create(12, today=today, prefix="B")
    for c in more:
        call_task(c, to=staff.manager)
        # A past call and a message, so touches are read too.
        Task.objects.filter(pk=call_task(c, to=staff.manager).pk).update(
            status=TaskStatus.DONE, outcome="no_answer", completed_at=timezone.now()
        )
    many_new = _queries(mia, "/worklist/")
    many = _queries(mia, "/worklist/")
    assert (many_new, many) == (few_new, few)
    # Session, user, roles, how many tasks (and unranked), the page's ids,
    # their rows, own invoices' sums, paid history, invoices listed, the
    # tasks, contacts, promises, disputes, messages, calls, collectors.
    assert many == 16
    # Ranking the unranked: their ids, rows, own invoices, paid history, update.
    assert many_new == many + 5


def test_the_call_script_is_rendered_when_opened(staff: Staff) -> None:
    (a,) = customers_create(1, today=timezone.localdate())
    task = call_task(a, to=staff.ann)
    Task.objects.filter(pk=task.pk).update(template_key="inquiry-call")
    client = signed_in(staff.ann)
    row = client.get("/worklist/").content.decode()
    assert f'hx-get="/worklist/tasks/{task.pk}/script/"' in row
    script = client.get(f"/worklist/tasks/{task.pk}/script/").content.decode()
    # The shipped inquiry-call script, with this customer's overdue invoice.
    assert "C000-1" in script and "This task names no script" not in script
    assert signed_in(staff.bob).get(f"/worklist/tasks/{task.pk}/script/").status_code == 403


def test_a_task_naming_an_unknown_script_says_so(staff: Staff) -> None:
    (a,) = customers_create(1, today=timezone.localdate())
    task = call_task(a, to=staff.ann)
    page = signed_in(staff.ann).get(f"/worklist/tasks/{task.pk}/script/").content.decode()
    assert "No script:" in page and "call-inquire" in page
