"""Bad-debt write-offs along the approval matrix, their ledger entries, and
recoveries of money received afterwards."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from arrears.cases.approval_models import ApprovalStatus, WriteOff, WriteOffStatus
from arrears.cases.approvals import ApprovalForbidden, approval_decide
from arrears.cases.selectors import bad_debt_recovered, bad_debt_written_off
from arrears.cases.writeoff import (
    WriteOffRejected,
    recoveries_detect,
    recovery_record,
    write_off_propose,
)
from arrears.comms.models import Task, TaskKind, TaskStatus
from arrears.ledger.models import Activity, Customer, Invoice, InvoiceStatus, Payment
from arrears.ledger.services import documents_post

from .conftest import People

pytestmark = pytest.mark.django_db


def _invoice(ref: str) -> Invoice:
    return Invoice.objects.get(ref=ref)


def _approve(write_off: WriteOff, by: object) -> None:
    assert write_off.approval is not None
    approval_decide(approval=write_off.approval, approve=True, by=by, note="uncollectable")  # type: ignore[arg-type]


def _written_off(people: People) -> WriteOff:
    write_off = write_off_propose(
        invoice=_invoice("INV-1"), reason="customer insolvent", by=people.collector
    )
    _approve(write_off, people.other_collector)
    write_off.refresh_from_db()
    return write_off


def test_an_approved_write_off_settles_the_invoice_with_a_credit_note(
    debtor: Customer, people: People
) -> None:
    write_off = _written_off(people)
    assert write_off.status == WriteOffStatus.WRITTEN_OFF
    credit_note = write_off.credit_note
    assert credit_note is not None
    assert (credit_note.ref, credit_note.amount, credit_note.allocated) == (
        f"WO-{write_off.pk}",
        Decimal("300"),
        Decimal("300"),
    )
    assert credit_note.allocations.get().invoice == _invoice("INV-1")
    assert _invoice("INV-1").status == InvoiceStatus.PAID
    entry = Activity.objects.get(verb="written off")
    assert entry.actor == people.other_collector
    assert entry.data["proposed_by"] == "colin"
    today = timezone.localdate()
    assert bad_debt_written_off("EUR", today, today) == Decimal("300")
    assert bad_debt_written_off("EUR", today - timedelta(days=9), today - timedelta(days=1)) == 0
    assert bad_debt_written_off("USD", today, today) == 0


def test_the_proposer_never_approves_even_as_a_manager(debtor: Customer, people: People) -> None:
    write_off = write_off_propose(invoice=_invoice("INV-1"), reason="gone", by=people.manager)
    with pytest.raises(ApprovalForbidden, match="four eyes"):
        _approve(write_off, people.manager)
    assert _invoice("INV-1").status == InvoiceStatus.OPEN


def test_a_collector_cannot_approve_a_write_off_above_their_limit(
    debtor: Customer, people: People
) -> None:
    own = write_off_propose(invoice=_invoice("INV-2"), reason="gone", by=people.collector)
    others = write_off_propose(invoice=_invoice("INV-3"), reason="gone", by=people.manager)
    with pytest.raises(ApprovalForbidden):
        _approve(own, people.collector)  # their own, and 2,000 > 500
    with pytest.raises(ApprovalForbidden, match="needs a manager"):
        _approve(own, people.other_collector)
    with pytest.raises(ApprovalForbidden, match="needs a finance"):
        _approve(others, people.other_collector)
    with pytest.raises(ApprovalForbidden, match="needs a finance"):
        _approve(others, people.other_manager)
    _approve(own, people.manager)
    _approve(others, people.finance)
    assert set(WriteOff.objects.values_list("status", flat=True)) == {"written_off"}
    assert not Invoice.objects.filter(status=InvoiceStatus.OPEN).exclude(ref="INV-1").exists()


def test_a_rejected_write_off_leaves_the_invoice_open(debtor: Customer, people: People) -> None:
    write_off = write_off_propose(invoice=_invoice("INV-1"), reason="gone", by=people.collector)
    assert write_off.approval is not None
    approval_decide(
        approval=write_off.approval, approve=False, by=people.manager, note="they still trade"
    )
    write_off.refresh_from_db()
    assert write_off.status == WriteOffStatus.REJECTED
    assert write_off.credit_note is None
    assert _invoice("INV-1").status == InvoiceStatus.OPEN


def test_a_policy_proposal_closes_its_task_and_a_part_can_be_written_off(
    debtor: Customer, people: People
) -> None:
    task = Task.objects.create(
        kind=TaskKind.WRITE_OFF,
        customer=debtor,
        title="Write off proposal",
        reason="small balance",
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    write_off = write_off_propose(
        invoice=_invoice("INV-2"),
        amount=Decimal("450"),
        reason="the rest is disputed elsewhere",
        by=people.collector,
        task=task,
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert write_off.approval is not None
    assert write_off.approval.required_role == "collector"
    _approve(write_off, people.other_collector)
    assert _invoice("INV-2").open_amount == Decimal("1550")


def test_only_what_is_open_can_be_written_off(debtor: Customer, people: People) -> None:
    with pytest.raises(WriteOffRejected, match=r"at most the open 300\.00 EUR"):
        write_off_propose(
            invoice=_invoice("INV-1"), amount=Decimal("301"), reason="x", by=people.collector
        )
    write_off_propose(invoice=_invoice("INV-1"), reason="x", by=people.collector)
    with pytest.raises(WriteOffRejected, match="already proposed"):
        write_off_propose(invoice=_invoice("INV-1"), reason="x", by=people.other_collector)


def test_a_payment_after_approval_is_proposed_shrinks_the_write_off(
    debtor: Customer, people: People
) -> None:
    write_off = write_off_propose(invoice=_invoice("INV-1"), reason="x", by=people.collector)
    documents_post(
        [
            Payment(
                ref="P-LATE",
                customer=debtor,
                received_on=timezone.localdate(),
                amount=Decimal("120"),
                currency="EUR",
                invoice_ref="INV-1",
            )
        ]
    )
    _approve(write_off, people.other_collector)
    write_off.refresh_from_db()
    assert write_off.amount == Decimal("180")
    assert _invoice("INV-1").status == InvoiceStatus.PAID


# --- recoveries ---------------------------------------------------------------------


def test_a_late_payment_for_a_written_off_invoice_is_detected_as_a_recovery(
    debtor: Customer, people: People
) -> None:
    write_off = _written_off(people)
    payment = Payment(
        ref="P-AFTER",
        customer=debtor,
        received_on=timezone.localdate(),
        amount=Decimal("200"),
        currency="EUR",
        invoice_ref="INV-1",
    )
    documents_post([payment])
    payment.refresh_from_db()
    assert payment.unapplied == Decimal("200")  # the invoice is settled by the write-off
    assert recoveries_detect() == 1
    assert recoveries_detect() == 0
    payment.refresh_from_db()
    assert payment.unapplied == 0
    recovery = write_off.recoveries.get()
    assert (recovery.amount, recovery.payment) == (Decimal("200"), payment)
    today = timezone.localdate()
    assert bad_debt_recovered("EUR", today, today) == Decimal("200")
    assert Activity.objects.filter(verb="bad debt recovered").count() == 1


def test_a_recovery_is_recorded_by_hand_up_to_what_was_written_off(
    debtor: Customer, people: People
) -> None:
    write_off = _written_off(people)
    today = timezone.localdate()
    recovery_record(
        write_off=write_off,
        payment_ref="P-REC-1",
        amount=Decimal("250"),
        received_on=today,
        by=people.collector,
    )
    payment = Payment.objects.get(ref="P-REC-1")
    assert (payment.amount, payment.unapplied, payment.invoice_ref) == (
        Decimal("250"),
        Decimal(0),
        "INV-1",
    )
    with pytest.raises(WriteOffRejected, match=r"at most the 50\.00 EUR still written off"):
        recovery_record(
            write_off=write_off,
            payment_ref="P-REC-2",
            amount=Decimal("60"),
            received_on=today,
            by=people.collector,
        )
    with pytest.raises(WriteOffRejected, match="give received_on"):
        recovery_record(
            write_off=write_off, payment_ref="P-NEW", amount=Decimal("10"), by=people.collector
        )


def test_no_recovery_before_the_write_off_is_approved(debtor: Customer, people: People) -> None:
    write_off = write_off_propose(invoice=_invoice("INV-1"), reason="x", by=people.collector)
    assert write_off.approval is not None
    assert write_off.approval.status == ApprovalStatus.PENDING
    with pytest.raises(WriteOffRejected, match="not written off"):
        recovery_record(
            write_off=write_off,
            payment_ref="P-X",
            amount=Decimal("1"),
            received_on=timezone.localdate(),
            by=people.collector,
        )
