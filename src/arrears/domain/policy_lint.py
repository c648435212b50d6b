"""The policy linter (``arrears policy check``): mistakes a valid file can
still hold — steps that can never fire, escalation before the minimum
touches, a pre-due reminder that short terms push before the earliest
outreach, templates that do not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product

from .policy import (
    MESSAGE_KINDS,
    Anchor,
    Automation,
    Kind,
    Policy,
    Stage,
    Step,
)
from .policy_file import Problem
from .segments import Segment

# Until the communications app keeps a template registry, the names the
# shipped default policy uses are the known set.
SHIPPED_TEMPLATES = frozenset(
    {"reminder-before-due", "inquiry", "inquiry-gentle", "firm-reminder", "final-demand"}
)
SHIPPED_SCRIPTS = frozenset(
    {"confirm-delivery", "inquiry-call", "firm-call", "white-glove-check-in", "white-glove-firm"}
)
COMMON_TERMS_DAYS = (7, 10, 14, 15, 21, 30, 45, 60, 90)


def policy_lint(
    policy: Policy,
    *,
    templates: Iterable[str] = SHIPPED_TEMPLATES,
    scripts: Iterable[str] | None = SHIPPED_SCRIPTS,
    terms_days: Iterable[int] = COMMON_TERMS_DAYS,
) -> list[Problem]:
    """Every finding, in file order. Errors make ``policy check`` fail;
    warnings are advice. ``scripts`` None: call scripts are not checked."""
    found: list[Problem] = []
    known_templates = frozenset(templates)
    known_scripts = None if scripts is None else frozenset(scripts)
    index = {step.id: i for i, step in enumerate(policy.steps)}
    g = policy.guardrails
    for i, step in enumerate(policy.steps):
        key = f"steps[{i}]"

        def add(where: str, reason: str, severity: str = "error", step: Step = step) -> None:
            found.append(Problem(step.line, where, reason, severity))

        c = step.conditions
        if not _can_apply(step):
            add(f"{key}.when", "can never hold: no customer matches these conditions")
        # The default limits, then each currency with limits of its own.
        limits = [("", (c.min_open_amount, c.max_open_amount))] + [
            (f" in {cur}", c.open_limits(cur))
            for cur in sorted({*c.min_open_by_currency, *c.max_open_by_currency})
        ]
        for where, (low, high) in limits:
            if low is not None and high is not None and low > high:
                add(
                    f"{key}.when",
                    f"can never hold{where}: min_open_amount is above max_open_amount",
                )
        t = step.trigger
        if t.anchor is Anchor.STEP:
            if t.step not in index:
                add(f"{key}.trigger.after", f"unreachable: there is no step {t.step!r}")
            elif index[t.step] >= i:
                add(
                    f"{key}.trigger.after",
                    f"unreachable: {t.step!r} comes later in the sequence (steps run in order)",
                )
            else:
                anchor = policy.steps[index[t.step]]
                if _disjoint(anchor, step):
                    add(
                        f"{key}.trigger.after",
                        f"unreachable: {t.step!r} never applies to the customers this step is for",
                    )
        if step.kind in MESSAGE_KINDS:
            if step.template is None:
                add(f"{key}.template", f"a {step.kind} step needs a template")
            elif step.template not in known_templates:
                add(f"{key}.template", f"no template named {step.template!r}")
        if step.kind is Kind.CALL and known_scripts is not None:
            if step.script is None:
                add(f"{key}.script", "a call step should name its call script", "warning")
            elif step.script not in known_scripts:
                add(f"{key}.script", f"no call script named {step.script!r}")
        if step.stage is Stage.REMIND and t.anchor is Anchor.DUE and t.days < 0:
            early = [n for n in terms_days if n + t.days < g.earliest_outreach_days]
            never = [n for n in early if n < g.earliest_outreach_days]
            if early:
                add(
                    f"{key}.trigger",
                    f"for terms of {', '.join(map(str, early))} days the reminder falls before "
                    f"the earliest outreach (day {g.earliest_outreach_days}) and moves to it"
                    + (
                        f"; for {', '.join(map(str, never))} days that is after the due "
                        "date, so there is no reminder before due"
                        if never
                        else ""
                    ),
                    "warning",
                )
        if step.stage is Stage.REMIND and t.anchor is Anchor.DUE and t.days >= 0:
            add(f"{key}.trigger", "a remind step comes before the due date (days < 0)")
    found += _escalation_findings(policy)
    return sorted(found, key=lambda p: p.line)


def _can_apply(step: Step) -> bool:
    c = step.conditions
    if c.segments is not None and not c.segments:
        return False
    modes = c.automation - {Automation.PAUSED}
    if step.kind is not Kind.CALL:
        modes -= {Automation.WHITE_GLOVE}
    if not modes:
        return False
    return c.preferred_channels is None or bool(c.preferred_channels)


def _disjoint(anchor: Step, step: Step) -> bool:
    """True when no customer both steps apply to (segment and automation)."""
    a, b = anchor.conditions, step.conditions
    segments_a = set(Segment) if a.segments is None else a.segments
    segments_b = set(Segment) if b.segments is None else b.segments
    return not segments_a & segments_b


def _escalation_findings(policy: Policy) -> list[Problem]:
    """Walk the sequence as each kind of automated customer would and count
    the collection touches before the first escalation step."""
    g = policy.guardrails
    found: dict[tuple[int, str], Problem] = {}
    for segment, automation in product(Segment, (Automation.AUTO, Automation.WHITE_GLOVE)):
        touches: list[Kind] = []
        for i, step in enumerate(policy.steps):
            c = step.conditions
            if c.segments is not None and segment not in c.segments:
                continue
            if automation not in c.automation:
                continue
            if automation is Automation.WHITE_GLOVE and step.kind is not Kind.CALL:
                continue
            if step.stage is Stage.ESCALATE:
                who = f"{segment} customers" + (
                    " (white glove)" if automation is Automation.WHITE_GLOVE else ""
                )
                if len(touches) < g.min_touches_before_escalation:
                    found.setdefault(
                        (step.line, "few"),
                        Problem(
                            step.line,
                            f"steps[{i}]",
                            f"escalation after only {len(touches)} touch(es) for {who} "
                            f"(minimum {g.min_touches_before_escalation}): it would wait forever",
                        ),
                    )
                elif automation is Automation.AUTO and not (
                    Kind.CALL in touches and set(touches) & MESSAGE_KINDS
                ):
                    found.setdefault(
                        (step.line, "mix"),
                        Problem(
                            step.line,
                            f"steps[{i}]",
                            f"the touches before escalation for {who} do not mix "
                            "written messages and calls",
                            "warning",
                        ),
                    )
                break
            if step.is_touch and step.stage not in g.exempt_stages:
                touches.append(step.kind)
    return list(found.values())
