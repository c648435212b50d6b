"""Roles: groups exist after migrate, who counts as a manager, and a
collector gets 403 on everything marked manager-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from arrears.comms.models import Task, TaskStatus
from arrears.ledger.models import Activity, Automation, Customer
from arrears.web.roles import ADMIN, ROLES, is_manager, roles_ensure
from arrears.web.services import customer_automation_set

from .staffdata import PASSWORD, Staff, call_task, customers_create, users_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Staff:
    return users_create()


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_role_groups_exist_after_migrate_and_ensure_is_idempotent() -> None:
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    roles_ensure()
    roles_ensure()
    assert Group.objects.filter(name__in=ROLES).count() == 3


def test_managers_admins_and_superusers_are_managers_collectors_are_not(staff: Staff) -> None:
    admin = User.objects.create_user("ada")
    admin.groups.add(Group.objects.get(name=ADMIN))
    root = User.objects.create_superuser("root", password=PASSWORD)
    assert is_manager(staff.manager)
    assert is_manager(admin)
    assert is_manager(root)
    assert not is_manager(staff.ann)
    assert not is_manager(None)


def test_a_collector_cannot_reassign_a_task_even_their_own(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    task = call_task(customer, to=staff.ann)
    response = signed_in(staff.ann).post(
        f"/worklist/tasks/{task.pk}/reassign/", {"to": staff.bob.pk}
    )
    assert response.status_code == 403
    assert Task.objects.get(pk=task.pk).assigned_to == staff.ann


def test_a_collector_cannot_work_someone_elses_task(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    task = call_task(customer, to=staff.bob)
    ann = signed_in(staff.ann)
    done = ann.post(f"/worklist/tasks/{task.pk}/done/", {"outcome": "no_answer"})
    snoozed = ann.post(f"/worklist/tasks/{task.pk}/snooze/", {"until": "2h"})
    assert (done.status_code, snoozed.status_code) == (403, 403)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_a_collector_cannot_see_another_collectors_worklist(staff: Staff) -> None:
    ann = signed_in(staff.ann)
    assert ann.get(f"/worklist/?collector={staff.bob.pk}").status_code == 403
    assert ann.get("/worklist/?collector=unassigned").status_code == 403
    assert ann.get(f"/worklist/?collector={staff.ann.pk}").status_code == 200


def test_a_collector_cannot_switch_a_customers_automation(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    response = signed_in(staff.ann).post(
        f"/customers/{customer.ref}/automation/", {"automation": "paused"}
    )
    assert response.status_code == 403
    assert Customer.objects.get(pk=customer.pk).automation == Automation.AUTO


def test_the_automation_service_itself_refuses_a_collector(staff: Staff) -> None:
    from django.core.exceptions import PermissionDenied

    [customer] = customers_create(1, today=timezone.localdate())
    with pytest.raises(PermissionDenied):
        customer_automation_set(customer=customer, automation="paused", actor=staff.ann)


def test_a_manager_reassigns_and_switches_automation(staff: Staff) -> None:
    [customer] = customers_create(1, today=timezone.localdate())
    task = call_task(customer, to=staff.ann)
    mia = signed_in(staff.manager)
    moved = mia.post(f"/worklist/tasks/{task.pk}/reassign/", {"to": staff.bob.pk})
    assert moved.status_code == 302
    assert Task.objects.get(pk=task.pk).assigned_to == staff.bob
    switched = mia.post(
        f"/customers/{customer.ref}/automation/",
        {"automation": "white_glove", "why": "key account"},
    )
    assert switched.status_code == 302
    assert Customer.objects.get(pk=customer.pk).automation == Automation.WHITE_GLOVE
    entry = Activity.objects.get(customer=customer, verb="automation changed")
    assert (entry.actor, entry.why, entry.data["to"]) == (
        staff.manager,
        "key account",
        "white_glove",
    )


def test_pages_ask_anonymous_visitors_to_sign_in(client: Client) -> None:
    for url in ("/worklist/", "/customers/", "/search/?q=x", "/customers/X/", "/invoices/X/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
