"""Policy files: YAML with errors naming the line and key; the linter."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

import arrears
from arrears.domain.policy import Anchor, Automation, Kind, Stage, Trigger
from arrears.domain.policy_file import PolicyInvalid, policy_parse
from arrears.domain.policy_lint import SHIPPED_TEMPLATES, policy_lint
from arrears.domain.segments import Segment

DEFAULT = Path(arrears.__file__).parent / "sequencing" / "policies" / "default.yaml"

GOOD = """\
name: tiny
guardrails:
  frequency_cap: {touches: 3, days: 10}
  business_hours: {start: 8:30, end: "16:00"}
segments:
  risky: {timing: 0.5, shift_days: -1}
steps:
  - id: inquiry
    stage: inquire
    kind: email
    template: inquiry
    trigger: {from: due, days: 3}
    when: {segments: [slow, risky], min_open_amount: 10.5, preferred_channel: [email]}
  - id: call
    stage: inquire
    kind: call
    script: inquiry-call
    trigger: {after: inquiry, days: 5}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalid) as info:
        policy_parse(dedent(text))
    return [p.format("p.yaml") for p in info.value.problems]


def test_a_valid_file_reads_into_a_policy() -> None:
    policy = policy_parse(GOOD)
    assert policy.name == "tiny"
    g = policy.guardrails
    assert (g.frequency_cap_touches, g.frequency_cap_days) == (3, 10)
    assert g.business_hours.start.isoformat() == "08:30:00"
    assert g.earliest_outreach_days == 14, "defaults stay"
    assert policy.timing[Segment.RISKY].factor == Decimal("0.5")
    first, second = policy.steps
    assert (first.stage, first.kind, first.trigger) == (
        Stage.INQUIRE,
        Kind.EMAIL,
        Trigger(Anchor.DUE, 3),
    )
    assert first.conditions.segments == frozenset({Segment.SLOW, Segment.RISKY})
    assert first.conditions.min_open_amount == Decimal("10.5")
    assert first.conditions.automation == frozenset({Automation.AUTO, Automation.WHITE_GLOVE})
    assert (first.line, second.line) == (8, 14)
    assert second.trigger == Trigger(Anchor.STEP, 5, "inquiry")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps: []\n", ["p.yaml:1: steps: must list at least one step"]),
        ("steps:\n  - id: a\n    stage: inquire\n    kind: email\n"
         "    trigger: {from: due, days: x}\n",
         ["p.yaml:5: steps[0].trigger.days: must be an integer"]),
        ("steps:\n  - id: a\n    stage: later\n    kind: fax\n    colour: red\n"
         "    trigger: {from: due, days: 1}\n",
         ["p.yaml:3: steps[0].stage: must be one of notify, confirm, remind, inquire, pressure, "
          "escalate",
          "p.yaml:4: steps[0].kind: must be one of email, sms, letter, call, task, escalation, "
          "credit_hold, agency, write_off",
          "p.yaml:5: steps[0].colour: unknown key (allowed: deadline_days, description, id, kind, "
          "requires_approval, script, stage, template, trigger, when, window_days)"]),
        ("guardrails:\n  frequency_cap: {touches: 0, days: 7}\n  skip_weekends: maybe\n"
         "steps:\n  - {id: a, stage: inquire, kind: call, trigger: {after: b, days: 1}}\n",
         ["p.yaml:2: guardrails.frequency_cap.touches: must be at least 1",
          "p.yaml:3: guardrails.skip_weekends: must be true or false"]),
        ("steps:\n  - {id: a, stage: escalate, kind: agency, requires_approval: false,\n"
         "     trigger: {from: due, days: 60}}\n",
         ["p.yaml:2: steps[0].requires_approval: a agency proposal always requires approval"]),
        ("steps:\n  - {id: a, stage: inquire, kind: call,\n"
         "     trigger: {from: due, after: a, days: 1}}\n",
         ["p.yaml:3: steps[0].trigger: give either from: issue|due or after: STEP_ID"]),
        ("steps:\n  - {id: a, stage: inquire, kind: call, trigger: {from: due, days: 1}}\n"
         "  - {id: a, stage: inquire, kind: call, trigger: {from: due, days: 2}}\n",
         ["p.yaml:3: steps[1].id: duplicate step id 'a' (first on line 2)"]),
        ("steps:\n  - {id: a, stage: inquire, kind: call, trigger: {from: due, days: 1},\n"
         "     when: {segments: [vip]}}\n",
         ["p.yaml:3: steps[0].when.segments[0]: must be one of new, good, slow, risky"]),
        ("name: [x]\nsteps: {}\n", ["p.yaml:1: name: must be a single value",
                                     "p.yaml:2: steps: must be a list"]),
        ("steps: [\n", ["p.yaml:2: yaml: expected the node content, but found '<stream end>'"]),
        ("", ["p.yaml:1: policy: the file is empty"]),
        ("other: 1\n", ["p.yaml:1: other: unknown key (allowed: description, guardrails, name, "
                        "segments, steps)", "p.yaml:1: steps: is required"]),
    ],
)  # fmt: skip
def test_errors_name_the_line_and_key(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def lint(text: str, **options: object) -> list[str]:
    return [p.format("p.yaml") for p in policy_lint(policy_parse(dedent(text)), **options)]  # type: ignore[arg-type]


def test_the_linter_finds_unreachable_steps_and_missing_templates() -> None:
    text = """\
    steps:
      - {id: a, stage: inquire, kind: email, template: nope, trigger: {from: due, days: 1}}
      - {id: b, stage: inquire, kind: call, trigger: {after: c, days: 1}}
      - {id: c, stage: inquire, kind: call, trigger: {after: zz, days: 1}, script: inquiry-call}
      - {id: d, stage: inquire, kind: sms, trigger: {from: due, days: 9},
         when: {automation: [white_glove]}}
      - {id: e, stage: inquire, kind: call, script: inquiry-call,
         trigger: {from: due, days: 1}, when: {segments: [new]}}
      - {id: f, stage: inquire, kind: call, script: inquiry-call, trigger: {after: e, days: 1},
         when: {segments: [good], min_open_amount: 10, max_open_amount: 5}}
    """
    assert lint(text) == [
        "p.yaml:2: steps[0].template: no template named 'nope'",
        "p.yaml:3: steps[1].trigger.after: unreachable: 'c' comes later in the sequence "
        "(steps run in order)",
        "p.yaml:3: warning: steps[1].script: a call step should name its call script",
        "p.yaml:4: steps[2].trigger.after: unreachable: there is no step 'zz'",
        "p.yaml:5: steps[3].when: can never hold: no customer matches these conditions",
        "p.yaml:5: steps[3].template: a sms step needs a template",
        "p.yaml:9: steps[5].when: can never hold: min_open_amount is above max_open_amount",
        "p.yaml:9: steps[5].trigger.after: unreachable: 'e' never applies to the customers "
        "this step is for",
    ]
    assert lint(text, templates={"nope"}, scripts=None)[0].startswith("p.yaml:3: steps[1]")


def test_the_linter_finds_escalation_before_the_minimum_touches() -> None:
    text = """\
    steps:
      - {id: a, stage: inquire, kind: email, template: inquiry, trigger: {from: due, days: 1}}
      - {id: b, stage: inquire, kind: email, template: inquiry, trigger: {from: due, days: 5},
         when: {segments: [good]}}
      - {id: x, stage: escalate, kind: escalation, trigger: {from: due, days: 30}}
    """
    found = lint(text)
    assert found[0] == (
        "p.yaml:5: steps[2]: escalation after only 1 touch(es) for new customers "
        "(minimum 4): it would wait forever"
    )
    text = text.replace("min", "").replace("kind: escalation", "kind: escalation")
    relaxed = "guardrails: {min_touches_before_escalation: 2}\n" + dedent(text)
    assert lint(relaxed) == [
        "p.yaml:6: steps[2]: escalation after only 1 touch(es) for new customers (minimum 2): "
        "it would wait forever",
        "p.yaml:6: warning: steps[2]: the touches before escalation for good customers do not "
        "mix written messages and calls",
    ]


def test_a_pre_due_reminder_warns_about_short_terms() -> None:
    text = """\
    steps:
      - {id: r, stage: remind, kind: email, template: inquiry, trigger: {from: due, days: -7}}
    """
    assert lint(text, terms_days=[10, 14, 21, 30]) == [
        "p.yaml:2: warning: steps[0].trigger: for terms of 10, 14 days the reminder falls "
        "before the earliest outreach (day 14) and moves to it; for 10 days that is after the "
        "due date, so there is no reminder before due"
    ]


def test_the_shipped_default_policy_is_clean() -> None:
    policy = policy_parse(DEFAULT.read_text(encoding="utf-8"))
    assert policy.name == "default"
    found = policy_lint(policy)
    assert [p for p in found if p.severity == "error"] == []
    assert {s.template for s in policy.steps if s.template} <= SHIPPED_TEMPLATES
    stages = [s.stage for s in policy.steps]
    assert stages.index(Stage.ESCALATE) > stages.index(Stage.PRESSURE)
    approvals = {s.id for s in policy.steps if s.requires_approval}
    assert approvals == {"credit-hold", "agency-turnover", "write-off-proposal"}


CURRENCY_LIMITS = """\
name: limits
steps:
  - id: hold
    stage: pressure
    kind: credit_hold
    trigger: {from: due, days: 25}
    when: {min_open_amount: {EUR: 500, JPY: 75000, default: 550}}
"""


def test_amount_limits_can_differ_per_currency() -> None:
    from arrears.domain.policy import Conditions

    (step,) = policy_parse(CURRENCY_LIMITS).steps
    c = step.conditions
    assert c.open_limits("EUR") == (Decimal("500"), None)
    assert c.open_limits("JPY") == (Decimal("75000"), None)
    assert c.open_limits("USD") == (Decimal("550"), None), "default for the others"
    assert Conditions(min_open_amount=Decimal(5)).open_limits("EUR") == (Decimal(5), None)


def test_a_currency_limit_names_a_currency() -> None:
    text = CURRENCY_LIMITS.replace("JPY: 75000", "YEN: 75000")
    assert problems(text) == [
        "p.yaml:7: steps[0].when.min_open_amount.YEN: "
        "must be an ISO 4217 currency code (e.g. EUR) or default"
    ]


def test_the_linter_checks_limits_per_currency() -> None:
    from arrears.domain.policy_lint import policy_lint

    text = CURRENCY_LIMITS.replace("default: 550}}", "default: 550}, max_open_amount: {EUR: 100}}")
    found = [p.reason for p in policy_lint(policy_parse(text))]
    assert "can never hold in EUR: min_open_amount is above max_open_amount" in found
