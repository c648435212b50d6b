"""arrears policy check|apply: exit codes, messages, versioning, activity."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from arrears.ledger.models import Activity
from arrears.sequencing.models import PolicyVersion
from arrears.sequencing.selectors import DEFAULT_POLICY_PATH, policy_active

pytestmark = pytest.mark.django_db

BAD = """\
name: broken
steps:
  - id: a
    stage: inquire
    kind: email
    template: no-such-template
    trigger: {from: due, days: 3}
  - id: b
    stage: inquire
    kind: call
    trigger: {from: due, days: soon}
"""


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("policy", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_passes_the_default_policy_with_its_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "default.yaml", DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    code, out, err = run("check", str(path))
    assert code == 0
    assert "OK — policy default, 14 steps, 1 warning(s)" in out
    assert f"{path}:58: warning: steps[1].trigger: for terms of 7, 10, 14, 15 days" in err


def test_check_lists_every_problem_with_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", BAD)
    code, out, err = run("check", str(path))
    assert code == 2
    assert f"{path}:11: steps[1].trigger.days: must be an integer" in err
    assert out == ""
    # Schema errors come first; once the file reads, the linter speaks.
    code, _, err = run("check", str(write(tmp_path, "q.yaml", BAD.replace("soon", "10"))))
    assert code == 2
    assert "q.yaml:3: steps[0].template: no template named 'no-such-template'" in err


def test_check_of_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml:0: file: No such file or directory" in err


def test_apply_stores_a_version_once_and_logs_it(tmp_path: Path) -> None:
    assert policy_active().name == "default" and policy_active().version == 0
    path = write(tmp_path, "house.yaml", DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    code, out, _ = run("apply", str(path))
    assert (code, out.strip()) == (0, f"applied default v1 from {path}; it is now active")
    code, out, _ = run("apply", str(path))
    assert (code, out.strip()) == (0, "unchanged: default v1 is already active")
    assert PolicyVersion.objects.count() == 1
    assert Activity.objects.filter(subject_type="policy").count() == 1

    path.write_text(path.read_text().replace("days: 3}", "days: 4}", 1))
    run("apply", str(path))
    versions = list(PolicyVersion.objects.order_by("version").values_list("version", "is_active"))
    assert versions == [(1, False), (2, True)]
    active = policy_active()
    assert (active.name, active.version) == ("default", 2)
    assert active.step("inquiry").trigger.days == 4  # type: ignore[union-attr]
    entry = Activity.objects.filter(subject_type="policy").first()
    assert entry is not None
    assert (entry.verb, entry.subject_ref, entry.actor_label) == (
        "policy applied",
        "default v2",
        "policy apply house.yaml",
    )
    assert entry.why == "from house.yaml, replacing default v1"


def test_apply_of_an_earlier_text_reactivates_its_version(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    path = write(tmp_path, "p.yaml", text)
    run("apply", str(path))
    path.write_text(text.replace("touches: 2, days: 7", "touches: 1, days: 7"))
    run("apply", str(path))
    path.write_text(text)
    code, out, _ = run("apply", str(path))
    assert out.startswith("applied default v1 from")
    assert code == 0
    assert PolicyVersion.objects.get(is_active=True).version == 1
    assert PolicyVersion.objects.count() == 2
    assert Activity.objects.filter(verb="policy reactivated").count() == 1


def test_apply_of_a_bad_file_stores_nothing(tmp_path: Path) -> None:
    code, _, err = run("apply", str(write(tmp_path, "p.yaml", BAD)))
    assert code == 2
    assert "p.yaml:11: steps[1].trigger.days: must be an integer" in err
    assert not PolicyVersion.objects.exists()
    assert not Activity.objects.exists()
