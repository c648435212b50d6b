"""Late-payment charges as their own ledger entries: the statutory worked
examples exactly, rules by policy and region, fees, waivers only with
someone else's approval, and charges and discounts in messages."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import override_settings
from django.utils import timezone

from arrears.cases.approvals import ApprovalForbidden, ApprovalRejected, approval_decide
from arrears.cases.charges import (
    charge_rule_for,
    charge_waiver_request,
    charges_assess,
    charges_assess_due,
    rates_table,
)
from arrears.cases.plan_models import Charge, ChargeKind, ChargeRule, ChargeStatus
from arrears.cases.services import CaseRejected
from arrears.comms.rendering import message_context
from arrears.domain.interest import HalfYear, RateMissing
from arrears.ledger.models import Activity, Customer, Invoice, Payment
from arrears.ledger.services import documents_post
from arrears.sequencing.models import CustomerPolicy

pytestmark = pytest.mark.django_db


def _customer(ref: str, country: str) -> Customer:
    return Customer.objects.create(ref=ref, name=f"Customer {ref}", country=country)


def _invoice(
    customer: Customer, ref: str, amount: str, currency: str, due: date, terms: str = ""
) -> Invoice:
    return Invoice.objects.create(
        ref=ref,
        customer=customer,
        issue_date=due - timedelta(days=30),
        due_date=due,
        amount=Decimal(amount),
        currency=currency,
        terms=terms,
    )


def _rule(**fields: object) -> ChargeRule:
    return ChargeRule.objects.create(**{"name": "rule", "regime": "none", **fields})


@pytest.fixture
def eu_rule() -> ChargeRule:
    return _rule(name="EU statutory", region="EU", regime="eu")


@pytest.fixture
def uk_rule() -> ChargeRule:
    return _rule(name="UK statutory", region="GB", regime="uk")


def test_eu_worked_example_posts_154_11_interest_and_40_euros(eu_rule: ChargeRule) -> None:
    # EUR 10,000, 45 days late in H1 2024: ECB MRO 4.50 % + 8 = 12.50 %.
    invoice = _invoice(_customer("DE1", "DE"), "E1", "10000.00", "EUR", date(2024, 2, 1))
    posted = charges_assess(invoice=invoice, as_of=date(2024, 3, 17))
    by_kind = {c.kind: c for c in posted}
    assert by_kind[ChargeKind.INTEREST].amount == Decimal("154.11")
    assert (by_kind[ChargeKind.INTEREST].period_start, by_kind[ChargeKind.INTEREST].period_end) == (
        date(2024, 2, 2),
        date(2024, 3, 17),
    )
    assert "12.50% x 45/365" in by_kind[ChargeKind.INTEREST].basis
    assert by_kind[ChargeKind.COMPENSATION].amount == Decimal("40")
    # The invoice itself is unchanged: charges are their own entries.
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("10000.00")
    assert Activity.objects.filter(verb="charges posted", subject_ref="E1").count() == 1


def test_uk_worked_example_posts_108_90_interest_and_70_pounds(uk_rule: ChargeRule) -> None:
    # GBP 5,000 due 1 March 2024, paid 30 April (60 days): base 5.25 % + 8 = 13.25 %.
    customer = _customer("GB1", "GB")
    invoice = _invoice(customer, "U1", "5000.00", "GBP", date(2024, 3, 1))
    documents_post(
        [
            Payment(
                ref="UP1",
                customer=customer,
                received_on=date(2024, 4, 30),
                amount=Decimal("5000.00"),
                currency="GBP",
                invoice_ref="U1",
            )
        ]
    )
    invoice.refresh_from_db()
    posted = charges_assess(invoice=invoice, as_of=date(2024, 5, 15))
    assert {c.kind: c.amount for c in posted} == {
        ChargeKind.INTEREST: Decimal("108.90"),
        ChargeKind.COMPENSATION: Decimal("70"),
    }
    interest = next(c for c in posted if c.kind == ChargeKind.INTEREST)
    assert "x 60/365" in interest.basis


def test_assessing_again_posts_only_the_days_since(eu_rule: ChargeRule) -> None:
    invoice = _invoice(_customer("DE1", "DE"), "E1", "10000.00", "EUR", date(2024, 2, 1))
    charges_assess(invoice=invoice, as_of=date(2024, 3, 1))
    assert charges_assess(invoice=invoice, as_of=date(2024, 3, 1)) == []
    later = charges_assess(invoice=invoice, as_of=date(2024, 3, 17))
    assert [(c.kind, c.period_start, c.period_end) for c in later] == [
        (ChargeKind.INTEREST, date(2024, 3, 2), date(2024, 3, 17))
    ]
    interest = Charge.objects.filter(invoice=invoice, kind=ChargeKind.INTEREST)
    # Rounded per posting: within a cent of the one-shot 154.11.
    total = sum(interest.values_list("amount", flat=True))
    assert abs(total - Decimal("154.11")) <= Decimal("0.01")
    assert Charge.objects.filter(invoice=invoice, kind=ChargeKind.COMPENSATION).count() == 1


def test_an_invoice_not_yet_late_or_without_a_rule_is_not_charged(eu_rule: ChargeRule) -> None:
    invoice = _invoice(_customer("DE1", "DE"), "E1", "100.00", "EUR", date(2024, 2, 1))
    assert charges_assess(invoice=invoice, as_of=date(2024, 2, 1)) == []
    us = _invoice(_customer("US1", "US"), "A1", "100.00", "USD", date(2024, 2, 1))
    assert charge_rule_for(us.customer) is None
    assert charges_assess(invoice=us, as_of=date(2024, 6, 1)) == []


def test_the_most_specific_rule_applies(eu_rule: ChargeRule) -> None:
    anywhere = _rule(name="anywhere", regime="contract", contract_rate=Decimal(5))
    germany = _rule(name="germany", region="DE", regime="contract", contract_rate=Decimal(9))
    strict = _rule(name="strict DE", policy_name="strict", region="DE", regime="eu")
    de = _customer("DE1", "DE")
    fr = _customer("FR1", "FR")
    us = _customer("US1", "US")
    assert charge_rule_for(de) == germany
    assert charge_rule_for(fr) == eu_rule
    assert charge_rule_for(us) == anywhere
    CustomerPolicy.objects.create(customer=de, policy_name="strict", updated_by="t")
    assert charge_rule_for(de) == strict


def test_a_late_fee_is_fixed_plus_percent_once_after_its_days() -> None:
    _rule(
        name="fees",
        regime="none",
        fee_fixed=Decimal("15"),
        fee_percent=Decimal("1.5"),
        fee_after_days=30,
    )
    invoice = _invoice(_customer("US1", "US"), "A1", "1000.00", "USD", date(2024, 2, 1))
    assert charges_assess(invoice=invoice, as_of=date(2024, 3, 1)) == []
    posted = charges_assess(invoice=invoice, as_of=date(2024, 3, 2))
    assert [(c.kind, c.amount) for c in posted] == [(ChargeKind.FEE, Decimal("30.00"))]
    assert charges_assess(invoice=invoice, as_of=date(2024, 4, 2)) == []


def test_statutory_interest_without_a_rate_says_which_to_add(eu_rule: ChargeRule) -> None:
    invoice = _invoice(_customer("DE1", "DE"), "E1", "100.00", "EUR", date(2035, 2, 1))
    with pytest.raises(RateMissing, match="2035-H1"):
        charges_assess(invoice=invoice, as_of=date(2035, 3, 1))
    assert not Charge.objects.exists()


def test_the_rate_table_can_be_replaced_by_the_operator(tmp_path: Path) -> None:
    path = tmp_path / "rates.yaml"
    path.write_text('ecb_mro: {2035-H1: "1.00"}\n', encoding="utf-8")
    with override_settings(ARREARS_REFERENCE_RATES=str(path)):
        assert rates_table().rate("ecb_mro", HalfYear(2035, 1)) == Decimal("1.00")
    assert rates_table().rate("ecb_mro", HalfYear(2024, 1)) == Decimal("4.50")


def test_assessing_every_late_invoice_at_once(eu_rule: ChargeRule) -> None:
    de = _customer("DE1", "DE")
    _invoice(de, "E1", "1000.00", "EUR", date(2024, 2, 1))
    _invoice(de, "E2", "1000.00", "EUR", date(2024, 5, 1))
    posted = charges_assess_due(as_of=date(2024, 3, 1))
    assert sorted((c.invoice.ref, c.kind) for c in posted) == [
        ("E1", "compensation"),
        ("E1", "interest"),
    ]
    assert charges_assess_due(as_of=date(2024, 3, 1)) == []


# --- waivers ------------------------------------------------------------------


def _user(name: str, role: str | None) -> User:
    user = User.objects.create_user(name)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def charge(eu_rule: ChargeRule) -> Charge:
    invoice = _invoice(_customer("DE1", "DE"), "E1", "10000.00", "EUR", date(2024, 2, 1))
    charges_assess(invoice=invoice, as_of=date(2024, 3, 17))
    return Charge.objects.get(invoice=invoice, kind=ChargeKind.INTEREST)


def test_a_waiver_needs_an_approver_who_is_not_the_requester(charge: Charge) -> None:
    requester = _user("mia", "manager")
    approval = charge_waiver_request(charge=charge, reason="goodwill", actor=requester)
    with pytest.raises(ApprovalForbidden, match="four eyes"):
        approval_decide(approval=approval, approve=True, by=requester, note="")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.POSTED
    approver = _user("max", "manager")
    approval_decide(approval=approval, approve=True, by=approver, note="ok")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.WAIVED
    assert charge.waiver_approval_id == approval.pk
    waived = Activity.objects.get(verb="charge waived", subject_ref=str(charge.pk))
    assert waived.actor == approver
    with pytest.raises(CaseRejected, match="already waived"):
        charge_waiver_request(charge=charge, reason="again", actor=requester)


def test_a_collector_cannot_approve_a_waiver_above_their_limit(charge: Charge) -> None:
    # 154.11 is within a collector's 500; the 40 compensation too: use a big fee.
    big = Charge.objects.create(
        customer=charge.customer,
        invoice=charge.invoice,
        kind=ChargeKind.FEE,
        amount=Decimal("900.00"),
        currency="EUR",
        posted_on=date(2024, 3, 17),
        posted_by_label="t",
    )
    approval = charge_waiver_request(charge=big, reason="goodwill", actor=_user("mia", "manager"))
    with pytest.raises(ApprovalForbidden):
        approval_decide(approval=approval, approve=True, by=_user("carl", "collector"), note="")
    big.refresh_from_db()
    assert big.status == ChargeStatus.POSTED


def test_a_rejected_waiver_leaves_the_charge_posted(charge: Charge) -> None:
    approval = charge_waiver_request(charge=charge, reason="goodwill", actor=_user("a", None))
    with pytest.raises(ApprovalRejected, match="say why"):
        approval_decide(approval=approval, approve=False, by=_user("b", "manager"), note="")
    approval_decide(approval=approval, approve=False, by=_user("c", "manager"), note="no")
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.POSTED


# --- messages -----------------------------------------------------------------


def test_posted_charges_and_open_discounts_are_in_the_message_context(charge: Charge) -> None:
    customer = charge.customer
    today = timezone.localdate()
    _invoice(customer, "E9", "500.00", "EUR", today + timedelta(days=20), terms="2/10 net 30")
    context = message_context(
        customer=customer, invoice_refs=["E1", "E9"], deadline=None, now=timezone.now()
    )
    assert [(c["invoice_ref"], c["kind"], c["amount"]) for c in context["charges"]] == [
        ("E1", "interest", Decimal("154.11")),
        ("E1", "compensation", Decimal("40")),
    ]
    # Issued 10 days ago with 2/10 terms: the discount is still on offer today.
    assert [(d["invoice_ref"], d["amount"], d["pay"]) for d in context["discount"]] == [
        ("E9", Decimal("10.00"), Decimal("490.00"))
    ]
    Charge.objects.filter(pk=charge.pk).update(status=ChargeStatus.WAIVED)
    context = message_context(
        customer=customer, invoice_refs=["E1"], deadline=None, now=timezone.now()
    )
    assert [c["kind"] for c in context["charges"]] == ["compensation"]
