"""The onboarding sequence: score, welcome, reminders, staff task, end."""

from __future__ import annotations

from datetime import date, timedelta

from arrears.comms.consent import contact_consent_set
from arrears.comms.models import Message, Task, TaskKind
from arrears.ledger.models import Activity, Automation, Contact, ContactRole, Customer
from arrears.portal.models import Onboarding
from arrears.portal.onboarding import WEIGHTS, customer_completeness, onboarding_review

DAY = date(2025, 3, 10)


def new_customer(ref: str = "NEW", **fields: object) -> Customer:
    values: dict[str, object] = {
        "name": "New Co",
        "country": "DE",
        "customer_since": DAY - timedelta(days=2),
        **fields,
    }
    customer = Customer.objects.create(ref=ref, **values)
    Contact.objects.create(
        customer=customer, role=ContactRole.AP, email=f"ap@{ref.lower()}.example"
    )
    return customer


def test_the_weights_add_up_to_100() -> None:
    assert sum(WEIGHTS.values()) == 100


def test_completeness_scores_each_part_of_the_master_data(db: None) -> None:
    customer = new_customer()
    first = customer_completeness(customer)
    assert (first.score, first.missing) == (30, ("tax_id", "phone", "channel", "consent"))
    Customer.objects.filter(pk=customer.pk).update(tax_id="DE136695976", preferred_channel="email")
    customer.refresh_from_db()
    assert customer_completeness(customer).score == 70
    contact = customer.contacts.get()
    contact.phone = "+4930901820"
    contact.save()
    contact_consent_set(
        contact=contact, channel="sms", granted=True, source="test", actor_label="t"
    )
    assert customer_completeness(customer).score == 100
    # A bounced AP address does not count; nor does an invalid tax id.
    Contact.objects.filter(pk=contact.pk).update(email_bounced=True)
    Customer.objects.filter(pk=customer.pk).update(tax_id="DE123")
    customer.refresh_from_db()
    assert customer_completeness(customer).missing == ("ap_email", "tax_id")


def test_a_new_customer_is_welcomed_once_then_reminded_every_few_days(db: None) -> None:
    customer = new_customer()
    Customer.objects.create(ref="OLD", name="Old", country="DE", customer_since=date(2019, 1, 1))
    Customer.objects.create(ref="UNKNOWN", name="No date", country="DE")
    first = onboarding_review(as_of=DAY)
    assert (first["enrolled"], first["welcomed"], first["reminded"]) == (1, 1, 0)
    [welcome] = Message.objects.all()
    assert (welcome.customer, welcome.template_key) == (customer, "onboarding-welcome")
    # The same day again, or the next days: nothing new.
    for offset in range(0, 7):
        again = onboarding_review(as_of=DAY + timedelta(days=offset))
        assert again["welcomed"] == again["reminded"] == again["enrolled"] == 0, offset
    assert Message.objects.count() == 1
    # A week later: one reminder, and only one however often the run goes.
    assert onboarding_review(as_of=DAY + timedelta(days=7))["reminded"] == 1
    assert onboarding_review(as_of=DAY + timedelta(days=7))["reminded"] == 0
    assert onboarding_review(as_of=DAY + timedelta(days=10))["reminded"] == 0
    assert onboarding_review(as_of=DAY + timedelta(days=14))["reminded"] == 1
    keys = list(Message.objects.order_by("id").values_list("template_key", flat=True))
    assert keys == ["onboarding-welcome", "onboarding-reminder", "onboarding-reminder"]
    assert Onboarding.objects.get(customer=customer).reminders == 2
    assert Activity.objects.filter(customer=customer, verb="onboarding welcome queued").count() == 1


def test_still_incomplete_after_the_set_days_opens_one_staff_task(db: None) -> None:
    customer = new_customer()
    onboarding_review(as_of=DAY)
    assert onboarding_review(as_of=DAY + timedelta(days=20))["tasks"] == 0
    assert onboarding_review(as_of=DAY + timedelta(days=21))["tasks"] == 1
    assert onboarding_review(as_of=DAY + timedelta(days=28))["tasks"] == 0
    [task] = Task.objects.filter(customer=customer)
    assert task.kind == TaskKind.FIX_MASTER_DATA
    assert "a valid tax id" in task.reason and "30% complete" in task.reason


def test_without_an_email_address_staff_are_asked_at_once(db: None) -> None:
    customer = Customer.objects.create(
        ref="MUTE", name="Mute", country="DE", customer_since=DAY, phone="+4930901820"
    )
    counts = onboarding_review(as_of=DAY)
    assert (counts["welcomed"], counts["tasks"]) == (0, 1)
    assert not Message.objects.exists()
    assert "no e-mail address" in Task.objects.get(customer=customer).reason


def test_completing_the_data_ends_the_sequence(db: None) -> None:
    customer = new_customer(tax_id="DE136695976", preferred_channel="email", phone="+4930901820")
    onboarding_review(as_of=DAY)
    contact = customer.contacts.get()
    contact_consent_set(
        contact=contact, channel="email", granted=True, source="portal", actor_label="t"
    )
    counts = onboarding_review(as_of=DAY + timedelta(days=7))
    assert counts["completed"] == 1 and counts["reminded"] == 0
    onboarding = Onboarding.objects.get(customer=customer)
    assert onboarding.completed_at is not None and onboarding.score == 100
    assert onboarding_review(as_of=DAY + timedelta(days=30)) == {
        "enrolled": 0, "welcomed": 0, "reminded": 0, "tasks": 0, "completed": 0
    }  # fmt: skip
    assert Message.objects.count() == 1  # the welcome only


def test_white_glove_and_paused_customers_get_no_automated_onboarding(db: None) -> None:
    new_customer("GLOVE", automation=Automation.WHITE_GLOVE)
    new_customer("PAUSED", automation=Automation.PAUSED)
    assert onboarding_review(as_of=DAY)["enrolled"] == 0
    assert not Message.objects.exists()


def test_the_welcome_email_links_to_the_portal(db: None) -> None:
    from django.utils import timezone

    from arrears.comms.compose import message_compose
    from arrears.portal.links import portal_token_read

    customer = new_customer()
    onboarding_review(as_of=DAY)
    composed = message_compose(Message.objects.get(), now=timezone.now())
    assert "check your account details" in composed.subject
    url = next(w for w in composed.body_text.split() if "/portal/l/" in w)
    grant = portal_token_read(url.rstrip("/").rsplit("/", 1)[1])
    assert grant.customer == customer and grant.contact == customer.contacts.get()


def test_the_daily_run_reviews_onboarding(db: None) -> None:
    from arrears.sequencing.services import run_daily

    new_customer()
    run_daily(as_of=DAY)
    assert Message.objects.filter(template_key="onboarding-welcome").count() == 1
    run_daily(as_of=DAY)
    assert Message.objects.filter(template_key="onboarding-welcome").count() == 1
