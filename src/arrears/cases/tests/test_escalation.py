"""Serious past due: the summary so far, escalation tasks, the turnover
warning, and agency placement from proposal to recall, with its pack."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from arrears.cases.approval_models import ApprovalStatus, Placement, PlacementStatus
from arrears.cases.approvals import ApprovalForbidden, approval_decide
from arrears.cases.escalation import (
    SUMMARY_MARK,
    EscalationRejected,
    agency_collection_record,
    collection_summary,
    escalation_open,
    escalations_summarize,
    placement_confirm,
    placement_pack,
    placement_propose,
    placement_recall,
    turnover_warning_send,
)
from arrears.cases.selectors import holds_for
from arrears.cases.services import dispute_open, promise_record
from arrears.comms.models import Message, MessageStatus, Task, TaskKind
from arrears.domain.calendar import next_business_day
from arrears.ledger.models import Activity, Contact, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import documents_post
from arrears.sequencing.models import Action, ActionStatus
from arrears.sequencing.services import run_daily

from .conftest import People

pytestmark = pytest.mark.django_db


def _sent_email(customer: Customer) -> None:
    Message.objects.create(
        customer=customer,
        channel="email",
        template_key="reminder",
        status=MessageStatus.SENT,
        not_before=timezone.now(),
        next_attempt_at=timezone.now(),
        sent_at=timezone.now(),
        idempotency_key=f"t:{Message.objects.count()}",
        created_at=timezone.now(),
    )


def _placed(debtor: Customer, people: People) -> Placement:
    placement = placement_propose(
        customer=debtor,
        agency="Northern Recoveries",
        reason="no answer to the final demand",
        fee_percent=Decimal("20"),
        invoice_refs=["INV-1", "INV-2"],
        by=people.collector,
    )
    assert placement.approval is not None
    approval_decide(approval=placement.approval, approve=True, by=people.manager, note="go")
    return placement_confirm(placement=placement, by=people.collector)


# --- the summary and escalation tasks ---------------------------------------------


def test_the_summary_counts_everything_done_so_far(debtor: Customer, people: People) -> None:
    _sent_email(debtor)
    _sent_email(debtor)
    promise_record(
        customer=debtor,
        promised_on=timezone.localdate() + timedelta(days=3),
        source="call",
        actor=people.collector,
    )
    dispute_open(customer=debtor, lines={"INV-3": None}, reason="quality", actor=people.collector)
    documents_post(
        [
            Payment(
                ref="P-1",
                customer=debtor,
                received_on=timezone.localdate(),
                amount=Decimal("100"),
                currency="EUR",
            )
        ]
    )
    summary = collection_summary(debtor)
    assert summary.open == {"EUR": Decimal("22200")}
    assert summary.open_invoices == 3
    assert summary.oldest_days_past_due == 120
    assert summary.touches == {"email": 2}
    assert summary.promises == {"open": 1}
    assert summary.disputes == {"open": 1}
    assert (summary.payments, summary.paid) == (1, {"EUR": Decimal("100")})
    text = summary.text()
    assert "Open: 22200.00 EUR on 3 invoice(s)" in text
    assert "Touches sent: 2 email" in text
    assert "Payments: 1 (100.00 EUR)" in text


def test_an_escalation_task_carries_the_summary(debtor: Customer, people: People) -> None:
    _sent_email(debtor)
    task = escalation_open(customer=debtor, reason="silent for 90 days", by=people.collector)
    assert task.kind == TaskKind.ESCALATION
    assert task.reason.startswith("silent for 90 days")
    assert SUMMARY_MARK in task.reason
    assert "Touches sent: 1 email" in task.reason
    assert Activity.objects.filter(verb="escalated", actor=people.collector).exists()


def test_the_policys_escalation_tasks_get_the_summary_once(
    debtor: Customer, people: People
) -> None:
    task = Task.objects.create(
        kind=TaskKind.ESCALATION,
        customer=debtor,
        title="Management escalation",
        reason="40 days past due",
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    assert escalations_summarize() == 1
    assert escalations_summarize() == 0
    task.refresh_from_db()
    assert task.reason.startswith("40 days past due\n\nSummary so far:\nOpen: 22300.00 EUR")


def test_the_turnover_warning_is_queued_once_with_its_deadline(
    debtor: Customer, people: People
) -> None:
    deadline = timezone.localdate() + timedelta(days=10)
    message = turnover_warning_send(customer=debtor, deadline=deadline, by=people.manager)
    again = turnover_warning_send(customer=debtor, deadline=deadline, by=people.manager)
    assert again == message
    assert message.template_key == "agency-turnover-warning"
    assert (message.channel, message.deadline) == ("letter", deadline)
    assert message.invoice_refs == ["INV-1", "INV-2", "INV-3"]
    with pytest.raises(EscalationRejected, match="future"):
        turnover_warning_send(customer=debtor, deadline=timezone.localdate(), by=people.manager)


# --- placements ---------------------------------------------------------------------


def test_a_collector_cannot_approve_any_placement(debtor: Customer, people: People) -> None:
    placement = placement_propose(
        customer=debtor,
        agency="Northern Recoveries",
        reason="ignored the final demand",
        invoice_refs=["INV-1"],  # 300 EUR: within a collector's write-off limit
        by=people.manager,
    )
    assert placement.approval is not None
    for who in (people.collector, people.other_collector):
        with pytest.raises(ApprovalForbidden):
            approval_decide(approval=placement.approval, approve=True, by=who, note="")
    with pytest.raises(ApprovalForbidden, match="four eyes"):
        approval_decide(approval=placement.approval, approve=True, by=people.manager, note="")
    with pytest.raises(EscalationRejected, match="only an approved placement"):
        placement_confirm(placement=placement, by=people.manager)
    approval_decide(approval=placement.approval, approve=True, by=people.other_manager, note="")
    placement.refresh_from_db()
    assert placement.status == PlacementStatus.APPROVED


def test_a_rejected_placement_ends_and_a_new_one_may_be_proposed(
    debtor: Customer, people: People
) -> None:
    first = placement_propose(
        customer=debtor, agency="A", reason="late", invoice_refs=["INV-1"], by=people.collector
    )
    with pytest.raises(EscalationRejected, match="already has a placement"):
        placement_propose(customer=debtor, agency="B", reason="late", by=people.collector)
    assert first.approval is not None
    approval_decide(approval=first.approval, approve=False, by=people.manager, note="try a plan")
    first.refresh_from_db()
    assert first.status == PlacementStatus.REJECTED
    second = placement_propose(
        customer=debtor, agency="B", reason="late", invoice_refs=["INV-1"], by=people.collector
    )
    assert second.status == PlacementStatus.PROPOSED


def test_a_placed_customer_gets_no_automated_actions_from_the_daily_run(
    debtor: Customer, people: People
) -> None:
    today = timezone.localdate()
    other = Customer.objects.create(ref="C-OTHER", name="Other", country="GB")
    Contact.objects.create(customer=other, email="ap@other.test")
    Invoice.objects.create(
        ref="INV-O",
        customer=other,
        issue_date=today - timedelta(days=60),
        due_date=today - timedelta(days=30),
        amount=Decimal("500"),
        currency="EUR",
    )
    planned = Action.objects.create(
        customer=debtor,
        kind="email",
        stage="pressure",
        step="firm-reminder",
        planned_for=today,
        planned_at=timezone.now(),
        reason="planned before the placement",
        policy_name="default",
        idempotency_key="before-placement",
        created_at=timezone.now(),
    )
    placement = _placed(debtor, people)
    planned.refresh_from_db()
    assert planned.status == ActionStatus.CANCELLED
    assert holds_for([debtor.pk], today).customers == {debtor.pk: "placed with Northern Recoveries"}

    # A day the run contacts anyone in GB (a weekend day contacts no one).
    workday = next_business_day(today, "GB")
    run_daily(as_of=workday)

    assert not Action.objects.filter(customer=debtor, status=ActionStatus.PLANNED).exists()
    assert Action.objects.filter(customer=other).exists()
    # After a recall, collection resumes.
    placement_recall(placement=placement, by=people.manager, reason="agency closed")
    assert holds_for([debtor.pk], today).customers == {}
    run_daily(as_of=next_business_day(workday + timedelta(days=1), "GB"))
    assert Action.objects.filter(customer=debtor, status=ActionStatus.PLANNED).exists()


def test_agency_collections_are_posted_as_payments_with_the_fee(
    debtor: Customer, people: People
) -> None:
    placement = _placed(debtor, people)
    collection = agency_collection_record(
        placement=placement,
        amount=Decimal("500"),
        received_on=timezone.localdate(),
        payment_ref="AG-1",
        by=people.collector,
    )
    assert collection.fee == Decimal("100.00")  # 20 %
    # Applied to the placed invoices, oldest due first.
    assert Invoice.objects.get(ref="INV-1").status == InvoiceStatus.PAID
    assert Invoice.objects.get(ref="INV-2").open_amount == Decimal("1800")
    assert Invoice.objects.get(ref="INV-3").open_amount == Decimal("20000")
    agency_collection_record(
        placement=placement,
        amount=Decimal("50"),
        received_on=timezone.localdate(),
        payment_ref="AG-2",
        fee=Decimal("5"),
        by=people.collector,
    )
    assert list(placement.collections.values_list("fee", flat=True)) == [
        Decimal("100"),
        Decimal("5"),
    ]
    assert Activity.objects.filter(verb="agency collection").count() == 2


def test_the_placement_pack_holds_the_invoices_the_history_and_a_pdf_summary(
    debtor: Customer, people: People
) -> None:
    _sent_email(debtor)
    placement = _placed(debtor, people)
    pack = zipfile.ZipFile(io.BytesIO(placement_pack(placement)))
    assert sorted(pack.namelist()) == ["history.csv", "invoices.csv", "summary.pdf"]
    invoices = list(csv.DictReader(io.StringIO(pack.read("invoices.csv").decode())))
    assert [(r["invoice_ref"], r["open"]) for r in invoices] == [
        ("INV-1", "300.00"),
        ("INV-2", "2000.00"),
    ]
    history = list(csv.DictReader(io.StringIO(pack.read("history.csv").decode())))
    whats = [r["what"] for r in history]
    assert "invoice" in whats
    assert "email sent" in whats
    assert "placement proposed" in whats
    assert "approval approved" in whats
    pdf = PdfReader(io.BytesIO(pack.read("summary.pdf")))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Placement summary: Slow Payer Ltd" in text
    assert "Northern Recoveries" in text
    assert "INV-2" in text
    assert "Touches sent: 1 email" in text


def test_a_placement_takes_invoices_of_one_currency(debtor: Customer, people: People) -> None:
    Invoice.objects.create(
        ref="INV-USD",
        customer=debtor,
        issue_date=timezone.localdate() - timedelta(days=90),
        due_date=timezone.localdate() - timedelta(days=60),
        amount=Decimal("10"),
        currency="USD",
    )
    with pytest.raises(EscalationRejected, match="one currency"):
        placement_propose(customer=debtor, agency="A", reason="late", by=people.collector)
    placement = placement_propose(
        customer=debtor, agency="A", reason="late", invoice_refs=["INV-USD"], by=people.collector
    )
    assert (placement.amount, placement.currency) == (Decimal("10.00"), "USD")
    assert placement.approval is not None
    assert placement.approval.status == ApprovalStatus.PENDING


# --- the placement pages -------------------------------------------------------------


def test_the_placement_pages_hand_over_recall_and_download_the_pack(
    debtor: Customer, people: People
) -> None:
    placement = placement_propose(
        customer=debtor, agency="Northern Recoveries", reason="late", by=people.collector
    )
    assert placement.approval is not None
    approval_decide(approval=placement.approval, approve=True, by=people.finance, note="")
    client = Client()
    client.force_login(people.manager)
    listing = client.get("/cases/placements/").content.decode()
    assert "Northern Recoveries" in listing
    detail = client.get(f"/cases/placements/{placement.pk}/").content.decode()
    assert "Handed over: stop automated dunning" in detail
    assert "Open: 22300.00 EUR" in detail
    client.post(f"/cases/placements/{placement.pk}/confirm")
    placement.refresh_from_db()
    assert placement.status == PlacementStatus.PLACED
    pack = client.get(f"/cases/placements/{placement.pk}/pack.zip")
    assert pack["Content-Type"] == "application/zip"
    assert "summary.pdf" in zipfile.ZipFile(io.BytesIO(pack.content)).namelist()
    client.post(f"/cases/placements/{placement.pk}/recall", {"reason": "customer paid us"})
    placement.refresh_from_db()
    assert (placement.status, placement.end_reason) == ("recalled", "customer paid us")
