"""Unauthorized deductions: a short payment with a code becomes a case on
the payment and the invoice, held out of dunning while open; valid means a
credit note, invalid means re-billed or collected."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from arrears.cases.deductions import Remittance, deduction_detect, deduction_open, deduction_resolve
from arrears.cases.plan_models import Deduction, DeductionStatus
from arrears.cases.selectors import holds_for
from arrears.cases.services import CaseRejected
from arrears.ledger.models import Activity, Contact, Customer, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.sequencing.models import Action
from arrears.sequencing.services import run_daily

pytestmark = pytest.mark.django_db

AS_OF = date(2030, 3, 13)


@pytest.fixture
def customer() -> Customer:
    customer = Customer.objects.create(
        ref="C1", name="Acme GmbH", country="DE", customer_since=date(2020, 1, 1)
    )
    Contact.objects.create(customer=customer, email="ap@acme.test")
    Invoice.objects.create(
        ref="I1",
        customer=customer,
        issue_date=date(2030, 1, 10),
        due_date=date(2030, 2, 10),
        amount=Decimal("1000.00"),
        currency="EUR",
        order_ref="PO-7",
    )
    return customer


def _pay(customer: Customer, ref: str, amount: str, invoice_ref: str = "I1") -> Payment:
    payment = Payment(
        ref=ref,
        customer=customer,
        received_on=date(2030, 2, 20),
        amount=Decimal(amount),
        currency="EUR",
        invoice_ref=invoice_ref,
    )
    documents_post([payment])
    return payment


@pytest.fixture
def short(customer: Customer) -> Payment:
    """I1 paid 880.00 of 1,000.00: 120.00 kept back."""
    return _pay(customer, "P1", "880.00")


def _i1() -> Invoice:
    return Invoice.objects.get(ref="I1")


def test_a_short_payment_with_a_code_is_detected_as_a_deduction(short: Payment) -> None:
    opened = deduction_detect(
        remittances=[Remittance("P1", "dmg", "two pallets damaged")], actor_label="cash"
    )
    assert len(opened) == 1
    deduction = opened[0]
    assert (deduction.payment, deduction.invoice, deduction.amount, deduction.code) == (
        short,
        _i1(),
        Decimal("120.00"),
        "DMG",
    )
    assert Activity.objects.filter(verb="deduction opened").count() == 1
    # Detecting again opens nothing new.
    assert deduction_detect(remittances=[Remittance("P1", "DMG")], actor_label="cash") == []


def test_payments_without_a_code_or_paid_in_full_are_not_deductions(customer: Customer) -> None:
    _pay(customer, "P1", "880.00")
    assert deduction_detect(remittances=[Remittance("P1", " ")], actor_label="cash") == []
    _pay(customer, "P2", "120.00")
    assert deduction_detect(remittances=[Remittance("P2", "DMG")], actor_label="cash") == []
    assert deduction_detect(remittances=[Remittance("NOPE", "DMG")], actor_label="cash") == []


def test_an_open_deduction_leaves_the_invoice_out_of_dunning(short: Payment) -> None:
    deduction = deduction_open(
        payment=short, invoice=_i1(), amount=Decimal(120), code="PROMO", actor_label="t"
    )
    run_daily(as_of=AS_OF)
    assert not Action.objects.exists()
    reason = holds_for([short.customer_id], AS_OF).invoices[_i1().pk]
    assert reason == f"deduction {deduction.pk} of 120 EUR under review"


def test_a_valid_deduction_is_credited_and_closes_the_invoice(short: Payment) -> None:
    deduction = deduction_open(
        payment=short, invoice=_i1(), amount=Decimal(120), code="PROMO", actor_label="t"
    )
    resolved = deduction_resolve(
        deduction=deduction, outcome="valid", resolution="promotion agreed", actor_label="m"
    )
    assert resolved.status == DeductionStatus.VALID
    note = resolved.credit_note
    assert note is not None
    assert (note.amount, note.invoice_ref, note.allocated) == (
        Decimal(120),
        "I1",
        Decimal(120),
    )
    assert _i1().status == "paid"
    assert Activity.objects.filter(verb="deduction valid").exists()


def test_an_invalid_deduction_can_be_rebilled_on_a_new_invoice(short: Payment) -> None:
    deduction = deduction_open(
        payment=short, invoice=_i1(), amount=Decimal(120), reason="freight", actor_label="t"
    )
    resolved = deduction_resolve(
        deduction=deduction, outcome="rebill", resolution="freight is payable", actor_label="m"
    )
    assert resolved.status == DeductionStatus.REBILLED
    rebill = resolved.rebill_invoice
    assert rebill is not None
    assert (rebill.ref, rebill.amount, rebill.order_ref) == (
        f"I1-RB{deduction.pk}",
        Decimal(120),
        "PO-7",
    )
    assert rebill.due_date == rebill.issue_date + timedelta(days=14)
    # The short is moved, not doubled: the original is settled by the credit note.
    assert _i1().status == "paid"


def test_an_invalid_deduction_collected_returns_the_invoice_to_dunning(short: Payment) -> None:
    deduction = deduction_open(
        payment=short, invoice=_i1(), amount=Decimal(120), code="X", actor_label="t"
    )
    deduction_resolve(deduction=deduction, outcome="collect", resolution="owed", actor_label="m")
    assert _i1().open_amount == Decimal(120)
    run_daily(as_of=AS_OF)
    assert any("I1" in refs for refs in Action.objects.values_list("invoice_refs", flat=True))
    with pytest.raises(CaseRejected, match="already collected"):
        deduction_resolve(deduction=deduction, outcome="valid", resolution="x", actor_label="m")


@pytest.mark.parametrize(
    ("amount", "code", "reason", "message"),
    [
        ("120", "", "", "code or a reason"),
        ("0", "X", "", "more than 0"),
        ("120.01", "X", "", "at most the open 120.00"),
    ],
)
def test_a_bad_deduction_is_refused(
    short: Payment, amount: str, code: str, reason: str, message: str
) -> None:
    with pytest.raises(CaseRejected, match=message):
        deduction_open(
            payment=short,
            invoice=_i1(),
            amount=Decimal(amount),
            code=code,
            reason=reason,
            actor_label="t",
        )
    assert not Deduction.objects.exists()


def test_one_open_deduction_per_payment_and_invoice(short: Payment) -> None:
    deduction_open(payment=short, invoice=_i1(), amount=Decimal(20), code="A", actor_label="t")
    with pytest.raises(CaseRejected, match="already has an open deduction"):
        deduction_open(payment=short, invoice=_i1(), amount=Decimal(20), code="B", actor_label="t")


def test_a_deduction_needs_a_known_outcome_and_a_resolution(short: Payment) -> None:
    deduction = deduction_open(
        payment=short, invoice=_i1(), amount=Decimal(20), code="A", actor_label="t"
    )
    with pytest.raises(CaseRejected, match="not an outcome"):
        deduction_resolve(deduction=deduction, outcome="maybe", resolution="x", actor_label="m")
    with pytest.raises(CaseRejected, match="say how"):
        deduction_resolve(deduction=deduction, outcome="valid", resolution=" ", actor_label="m")
