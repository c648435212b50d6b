"""The policies pages: versions, one version, and a candidate checked,
simulated and applied."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from arrears.ledger.importers import ImportSummary
from arrears.sequencing.models import PolicyVersion
from arrears.sequencing.selectors import DEFAULT_POLICY_PATH
from arrears.web.roles import COLLECTOR, MANAGER, roles_ensure

pytestmark = pytest.mark.django_db
PASSWORD = "a long test password"


def _client(role: str) -> Client:
    roles_ensure()
    user = User.objects.create_user(role, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_the_shipped_default_when_nothing_was_applied() -> None:
    page = _client(COLLECTOR).get("/policies/").content.decode()
    assert "default" in page and "The shipped default" in page
    assert "No policy applied yet" in page


def test_a_version_shows_its_steps_and_file() -> None:
    page = _client(COLLECTOR).get("/policies/default/v0/").content.decode()
    assert "management-escalation" in page and "due+40 days" in page
    assert "earliest_outreach_days" in page
    assert _client(MANAGER).get("/policies/default/v9/").status_code == 404


def test_a_broken_candidate_lists_its_problems_with_lines() -> None:
    response = _client(COLLECTOR).post(
        "/policies/candidate/",
        {"text": "name: x\nsteps:\n  - {id: a, stage: inquire}\n", "check": ""},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "line 3" in page and "steps[0].trigger" in page and "is required" in page


def test_a_candidate_is_simulated_next_to_the_policies_in_use(
    ledger: None, importer: Callable[[str, str], ImportSummary]
) -> None:
    calls_only = (
        "name: calls\nsteps:\n  - {id: call, stage: inquire, kind: call, "
        "script: inquiry-call, trigger: {from: due, days: 1}}\n"
    )
    response = _client(COLLECTOR).post(
        "/policies/candidate/",
        {"text": calls_only, "start": "2025-02-01", "end": "2025-03-31", "simulate": ""},
    )
    assert response.status_code == 200
    rows = {label: (now, candidate) for label, now, candidate in response.context["comparison"]}
    assert rows["call actions"][1] == rows["Actions"][1] > 0
    assert rows["email actions"][0] > 0 and rows["email actions"][1] == 0


def test_a_simulation_range_is_limited_on_the_page() -> None:
    response = _client(COLLECTOR).post(
        "/policies/candidate/",
        {"text": "x", "start": "2025-01-01", "end": "2025-12-31", "simulate": ""},
    )
    assert "at most 92 days" in response.content.decode()


def test_a_manager_applies_a_candidate_and_a_collector_cannot() -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace("name: default", "name: brisk")
    assert (
        _client(COLLECTOR).post("/policies/candidate/", {"text": text, "apply": ""}).status_code
        == 403
    )
    assert not PolicyVersion.objects.exists()
    response = _client(MANAGER).post(
        "/policies/candidate/", {"text": text, "apply": ""}, follow=True
    )
    assert "brisk v1 is the active policy now" in response.content.decode()
    assert PolicyVersion.objects.get(is_active=True).applied_by == MANAGER
