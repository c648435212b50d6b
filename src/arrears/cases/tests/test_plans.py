"""Payment plans end to end: agreed for open invoices, they hold those
invoices out of the daily run; monitoring reminds a missed instalment,
breaks a plan missed too long (collection resumes, an escalation task)
and completes a paid one; the agreement letter is a real PDF."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone
from pypdf import PdfReader

from arrears.cases.plan_models import InstalmentStatus, PaymentPlan, PlanStatus
from arrears.cases.plans import (
    payment_plan_agreement_pdf,
    payment_plan_cancel,
    payment_plan_create,
    payment_plans_review,
)
from arrears.cases.selectors import holds_for
from arrears.cases.services import CaseRejected
from arrears.comms.compose import message_compose
from arrears.comms.models import Message, Task, TaskKind
from arrears.ledger.models import Activity, Contact, Customer, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.sequencing.models import Action
from arrears.sequencing.services import run_daily

pytestmark = pytest.mark.django_db

# A Wednesday in the future: plans start on it, invoices are long overdue.
AS_OF = date(2030, 3, 13)
FIRST_DUE = date(2030, 4, 1)


@pytest.fixture
def customer() -> Customer:
    customer = Customer.objects.create(
        ref="C1",
        name="Acme GmbH",
        country="DE",
        customer_since=date(2020, 1, 1),
        postal_address="Hafenstraße 12\n20457 Hamburg\nGermany",
    )
    Contact.objects.create(customer=customer, name="Alex Morgan", email="ap@acme.test")
    for ref, due in (("I1", date(2030, 2, 10)), ("I2", date(2030, 2, 12))):
        Invoice.objects.create(
            ref=ref,
            customer=customer,
            issue_date=due - timedelta(days=30),
            due_date=due,
            amount=Decimal("400.00"),
            currency="EUR",
        )
    return customer


def _plan(customer: Customer, **kwargs: object) -> PaymentPlan:
    args: dict[str, object] = {
        "customer": customer,
        "invoice_refs": ["I1", "I2"],
        "count": 3,
        "first_due": FIRST_DUE,
        "start_on": AS_OF,
        "actor_label": "collector",
        **kwargs,
    }
    return payment_plan_create(**args)  # type: ignore[arg-type]


def _pay(customer: Customer, ref: str, amount: str, on: date) -> None:
    documents_post(
        [
            Payment(
                ref=ref, customer=customer, received_on=on, amount=Decimal(amount), currency="EUR"
            )
        ]
    )


def _planned_refs(since: date | None = None) -> set[str]:
    qs = Action.objects.all()
    if since is not None:
        qs = qs.filter(planned_for__gte=since)
    return {ref for refs in qs.values_list("invoice_refs", flat=True) for ref in refs}


def test_a_plan_splits_the_open_invoices_into_equal_instalments(customer: Customer) -> None:
    plan = _plan(customer)
    assert (plan.principal, plan.total, plan.currency) == (
        Decimal("800.00"),
        Decimal("800.00"),
        "EUR",
    )
    rows = list(plan.instalments.values_list("number", "due_date", "amount"))
    assert rows == [
        (1, date(2030, 4, 1), Decimal("266.66")),
        (2, date(2030, 5, 1), Decimal("266.66")),
        (3, date(2030, 6, 1), Decimal("266.68")),
    ]
    assert Activity.objects.filter(verb="payment plan agreed", subject_ref=str(plan.pk)).exists()


def test_interest_and_a_set_up_fee_are_in_the_instalments(customer: Customer) -> None:
    plan = _plan(customer, annual_rate=Decimal(6), setup_fee=Decimal("20.00"), count=2)
    # 800 x 6 % x 19/365 (to 1 Apr) + 400 x 6 % x 30/365 (to 1 May)
    exact = Decimal(800) * Decimal("0.06") * 19 / 365 + Decimal(400) * Decimal("0.06") * 30 / 365
    assert plan.interest == exact.quantize(Decimal("0.01"))
    assert plan.total == Decimal("800.00") + plan.interest + Decimal("20.00")
    assert sum(plan.instalments.values_list("amount", flat=True)) == plan.total


def test_the_confirmation_email_lists_every_instalment(customer: Customer) -> None:
    plan = _plan(customer)
    message = Message.objects.get(idempotency_key=f"plan:{plan.pk}:confirmation")
    assert message.template_key == "payment-plan-confirmation"
    composed = message_compose(message, now=timezone.now())
    assert "3 instalments" in composed.subject
    for text in ("EUR 266.66", "EUR 266.68", "1 April 2030", "1 June 2030"):
        assert text in composed.body_text


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        (["I1", "NOPE"], "no invoice NOPE"),
        ([], "at least one invoice"),
    ],
)
def test_a_plan_for_unknown_invoices_is_refused(
    customer: Customer, refs: list[str], message: str
) -> None:
    with pytest.raises(CaseRejected, match=message):
        _plan(customer, invoice_refs=refs)


def test_a_plan_cannot_mix_currencies_or_cover_an_invoice_twice(customer: Customer) -> None:
    Invoice.objects.create(
        ref="I3",
        customer=customer,
        issue_date=date(2030, 1, 1),
        due_date=date(2030, 2, 1),
        amount=Decimal(10),
        currency="USD",
    )
    with pytest.raises(CaseRejected, match="one currency"):
        _plan(customer, invoice_refs=["I1", "I3"])
    _plan(customer, invoice_refs=["I1"])
    with pytest.raises(CaseRejected, match="already in an active payment plan: I1"):
        _plan(customer, invoice_refs=["I1", "I2"])


def test_a_paid_invoice_cannot_go_into_a_plan(customer: Customer) -> None:
    _pay(customer, "P0", "400.00", date(2030, 3, 1))
    with pytest.raises(CaseRejected, match="already paid: I1"):
        _plan(customer)


def test_an_impossible_schedule_is_refused_with_its_reason(customer: Customer) -> None:
    with pytest.raises(CaseRejected, match="before the plan starts"):
        _plan(customer, first_due=AS_OF - timedelta(days=1))


def test_invoices_under_a_kept_plan_are_left_alone_by_the_run(customer: Customer) -> None:
    plan = _plan(customer, invoice_refs=["I1"])
    run_daily(as_of=AS_OF)
    assert _planned_refs() == {"I2"}
    holds = holds_for([customer.pk], AS_OF)
    i1 = Invoice.objects.get(ref="I1")
    assert holds.invoices == {i1.pk: f"in payment plan {plan.pk}: paid by instalments"}
    # A replay of a day before the plan started sees no hold.
    assert holds_for([customer.pk], AS_OF - timedelta(days=1)).invoices == {}


def test_a_missed_instalment_gets_one_reminder(customer: Customer) -> None:
    plan = _plan(customer)
    assert payment_plans_review(as_of=FIRST_DUE)["reminded"] == 0
    counts = payment_plans_review(as_of=FIRST_DUE + timedelta(days=1))
    assert counts["reminded"] == 1
    again = payment_plans_review(as_of=FIRST_DUE + timedelta(days=2))
    assert again["reminded"] == 0
    reminder = Message.objects.get(template_key="instalment-reminder")
    assert reminder.idempotency_key == f"plan:{plan.pk}:instalment:1:reminder"
    assert reminder.deadline == FIRST_DUE + timedelta(days=14)
    assert plan.instalments.get(number=1).status == InstalmentStatus.MISSED
    composed = message_compose(reminder, now=timezone.now())
    assert "EUR 266.66" in composed.body_text
    assert "overdue" in composed.body_text
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_a_broken_payment_plan_resumes_collection(customer: Customer) -> None:
    plan = _plan(customer)
    run_daily(as_of=AS_OF)
    assert _planned_refs() == set()
    # Missed, reminded, still held.
    run_daily(as_of=FIRST_DUE + timedelta(days=1))
    assert _planned_refs() == set()
    assert Message.objects.filter(template_key="instalment-reminder").count() == 1
    # 15 days after the due date: more than the 14 allowed, the plan breaks.
    broken_on = FIRST_DUE + timedelta(days=15)
    summary = run_daily(as_of=broken_on)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.BROKEN
    assert plan.ended_on == broken_on
    assert "instalment 1" in plan.end_reason
    assert summary.actions_created > 0
    assert _planned_refs(since=broken_on) == {"I1", "I2"}
    task = Task.objects.get(customer=customer, kind=TaskKind.ESCALATION)
    assert f"payment plan {plan.pk} broken" in task.reason
    assert Activity.objects.filter(verb="payment plan broken").count() == 1
    # A replay of a day the plan still held sees the hold.
    assert holds_for([customer.pk], broken_on - timedelta(days=1)).invoices


def test_instalments_paid_on_time_keep_the_plan_and_the_last_completes_it(
    customer: Customer,
) -> None:
    plan = _plan(customer)
    _pay(customer, "P1", "266.66", FIRST_DUE)
    counts = payment_plans_review(as_of=FIRST_DUE + timedelta(days=20))
    assert counts == {"paid": 1, "reminded": 0, "broken": 0, "completed": 0}
    assert plan.instalments.get(number=1).status == InstalmentStatus.PAID
    _pay(customer, "P2", "533.34", date(2030, 5, 1))
    counts = payment_plans_review(as_of=date(2030, 5, 2))
    assert counts["completed"] == 1
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert set(plan.instalments.values_list("status", flat=True)) == {InstalmentStatus.PAID}


def test_payments_in_another_currency_do_not_count(customer: Customer) -> None:
    plan = _plan(customer)
    documents_post(
        [
            Payment(
                ref="PX",
                customer=customer,
                received_on=FIRST_DUE,
                amount=Decimal(1000),
                currency="USD",
            )
        ]
    )
    payment_plans_review(as_of=FIRST_DUE + timedelta(days=20))
    plan.refresh_from_db()
    assert plan.status == PlanStatus.BROKEN


@override_settings(ARREARS_PLAN_LEGAL_REVIEW_MONTHS=12)
def test_a_long_workout_is_flagged_for_legal_review(customer: Customer) -> None:
    short = _plan(customer, invoice_refs=["I1"], count=12)
    assert not short.legal_review
    long = _plan(customer, invoice_refs=["I2"], count=18)
    assert long.legal_review
    task = Task.objects.get(customer=customer, kind=TaskKind.TASK)
    assert "Legal review" in task.title
    assert f"payment plan {long.pk}" in task.reason


def test_a_cancelled_plan_releases_its_invoices(customer: Customer) -> None:
    plan = _plan(customer)
    with pytest.raises(CaseRejected, match="say why"):
        payment_plan_cancel(plan=plan, reason=" ", actor_label="m")
    payment_plan_cancel(plan=plan, reason="renegotiated", actor_label="m")
    assert holds_for([customer.pk], timezone.localdate() + timedelta(days=1)).invoices == {}
    with pytest.raises(CaseRejected, match="not active"):
        payment_plan_cancel(plan=plan, reason="again", actor_label="m")


def test_the_agreement_pdf_states_the_parties_invoices_and_schedule(customer: Customer) -> None:
    plan = _plan(customer, setup_fee=Decimal("15.00"))
    pdf = payment_plan_agreement_pdf(plan=plan)
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    assert f"Payment plan agreement no. {plan.pk}" in text
    assert "Acme GmbH" in text and "20457 Hamburg" in text
    assert "I1" in text and "I2" in text
    for line in ("1 April 2030", "1 May 2030", "1 June 2030", "EUR 271.66", "EUR 271.68"):
        assert line in text
    assert "Set-up fee EUR 15.00" in text
    assert "Total payable EUR 815.00" in text
    assert "more than 14 days late" in text


# --- staff pages --------------------------------------------------------------


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("sam"))
    return client


def test_the_plan_page_shows_the_schedule_and_offers_the_agreement(
    customer: Customer, staff: Client
) -> None:
    plan = _plan(customer)
    page = staff.get(f"/cases/plans/{plan.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "266.68 EUR" in html and "2030-06-01" in html and "Active" in html
    pdf = staff.get(f"/cases/plans/{plan.pk}/agreement.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert Client().get(f"/cases/plans/{plan.pk}/").status_code == 302


def test_a_plan_is_agreed_from_the_customer_form(customer: Customer, staff: Client) -> None:
    form = staff.get("/cases/plans/new/C1/")
    assert form.status_code == 200 and "I1" in form.content.decode()
    posted = staff.post(
        "/cases/plans/new/C1/",
        {
            "invoices": ["I1"],
            "instalments": "2",
            "first_due": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "frequency": "monthly",
            "annual_rate": "0",
            "setup_fee": "0",
        },
    )
    plan = PaymentPlan.objects.get()
    assert posted.status_code == 302 and posted["Location"] == f"/cases/plans/{plan.pk}/"
    assert plan.created_by_label == "sam"
    refused = staff.post(
        "/cases/plans/new/C1/",
        {
            "invoices": ["I1"],
            "instalments": "2",
            "first_due": (timezone.localdate() + timedelta(days=7)).isoformat(),
            "frequency": "monthly",
            "annual_rate": "0",
            "setup_fee": "0",
        },
    )
    assert refused.status_code == 422
    assert "already in an active payment plan" in refused.content.decode()


def test_the_deductions_page_lists_open_cases(customer: Customer, staff: Client) -> None:
    from arrears.cases.deductions import deduction_open

    payment = Payment(
        ref="P1",
        customer=customer,
        received_on=date(2030, 2, 20),
        amount=Decimal("300.00"),
        currency="EUR",
        invoice_ref="I1",
    )
    documents_post([payment])
    deduction_open(
        payment=payment,
        invoice=Invoice.objects.get(ref="I1"),
        amount=Decimal(100),
        code="FREIGHT",
        actor_label="t",
    )
    page = staff.get("/cases/deductions/")
    assert page.status_code == 200
    assert "FREIGHT" in page.content.decode() and "100.00 EUR" in page.content.decode()
