"""Policy files: YAML read into a ``Policy``, validated with errors that name
the line and the key (``policy.yaml:12: steps[3].trigger.days: must be an
integer``). Unknown keys are errors; every problem is reported, not just
the first.

The document is composed to YAML nodes (not loaded to Python values) so
every value keeps the line it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import yaml

from .calendar import BusinessHours
from .money import is_currency
from .policy import (
    APPROVAL_KINDS,
    Anchor,
    Automation,
    Conditions,
    Guardrails,
    Kind,
    Policy,
    SegmentTiming,
    Stage,
    Step,
    Trigger,
)
from .segments import Segment

T = TypeVar("T")
STEP_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Problem:
    """One finding in a policy file; ``severity`` is "error" or "warning"."""

    line: int
    key: str
    reason: str
    severity: str = "error"

    def format(self, source: str) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{source}:{self.line}: {prefix}{self.key}: {self.reason}"


class PolicyInvalid(ValueError):
    """A policy file with errors; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem], source: str = "policy") -> None:
        problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(p.format(source) for p in problems))
        self.problems = problems


class _Reader:
    """Walks the node tree, collecting problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, node: yaml.Node, key: str, reason: str) -> None:
        self.problems.append(Problem(node.start_mark.line + 1, key, reason))

    def mapping(
        self,
        node: yaml.Node,
        key: str,
        allowed: AbstractSet[str],
        required: AbstractSet[str] = frozenset(),
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, key, "must be a mapping of keys to values")
            return None
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else None
            where = f"{key}.{name}" if key else str(name)
            if name is None or name not in allowed:
                self.fail(k, where, f"unknown key (allowed: {', '.join(sorted(allowed))})")
            elif name in out:
                self.fail(k, where, "given twice")
            else:
                out[name] = v
        for name in sorted(required - out.keys()):
            self.fail(node, f"{key}.{name}" if key else name, "is required")
        return out

    def sequence(self, node: yaml.Node, key: str) -> list[yaml.Node] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, key, "must be a list")
            return None
        return list(node.value)

    def scalar(self, node: yaml.Node, key: str) -> yaml.ScalarNode | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":null"):
            self.fail(node, key, "must be a single value")
            return None
        return node

    def text(self, node: yaml.Node, key: str) -> str | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        if not scalar.tag.endswith(":str") or not scalar.value.strip():
            self.fail(node, key, "must be a non-empty text")
            return None
        return str(scalar.value)

    def integer(self, node: yaml.Node, key: str, low: int | None = None) -> int | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        if not scalar.tag.endswith(":int"):
            self.fail(node, key, "must be an integer")
            return None
        value = int(scalar.value.replace("_", ""))
        if low is not None and value < low:
            self.fail(node, key, f"must be at least {low}")
            return None
        return value

    def boolean(self, node: yaml.Node, key: str) -> bool | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        if not scalar.tag.endswith(":bool"):
            self.fail(node, key, "must be true or false")
            return None
        return str(scalar.value).lower() in {"true", "yes", "on"}

    def decimal(self, node: yaml.Node, key: str, positive: bool = False) -> Decimal | None:
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        try:
            if not (scalar.tag.endswith(":int") or scalar.tag.endswith(":float")):
                raise InvalidOperation
            value = Decimal(scalar.value.replace("_", ""))
        except InvalidOperation:
            self.fail(node, key, "must be a number")
            return None
        if not value.is_finite() or value < 0 or (positive and value == 0):
            self.fail(
                node, key, "must be a positive number" if positive else "must not be negative"
            )
            return None
        return value

    def clock(self, node: yaml.Node, key: str) -> time | None:
        # YAML 1.1 reads an unquoted 9:00 as the number 540: take the raw text.
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        try:
            hours, minutes = scalar.value.split(":")
            return time(int(hours), int(minutes))
        except ValueError:
            self.fail(node, key, 'must be a time of day like "09:00"')
            return None

    def choice(self, node: yaml.Node, key: str, choices: Callable[[str], T],
               names: list[str]) -> T | None:  # fmt: skip
        scalar = self.scalar(node, key)
        if scalar is None:
            return None
        try:
            return choices(str(scalar.value))
        except ValueError:
            self.fail(node, key, f"must be one of {', '.join(names)}")
            return None

    def choices(self, node: yaml.Node, key: str, choices: Callable[[str], T],
                names: list[str]) -> frozenset[T] | None:  # fmt: skip
        items = self.sequence(node, key)
        if items is None:
            return None
        values = [self.choice(item, f"{key}[{i}]", choices, names) for i, item in enumerate(items)]
        if any(v is None for v in values):
            return None
        return frozenset(v for v in values if v is not None)


def _names(enum: Any) -> list[str]:
    return [member.value for member in enum]


def policy_parse(text: str, *, name: str = "policy") -> Policy:
    """Read a policy from YAML text. Raises ``PolicyInvalid`` listing every
    problem (line, key, reason). ``name`` is used when the file has none."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise PolicyInvalid([Problem(line, "yaml", str(getattr(exc, "problem", exc)))]) from None
    if root is None:
        raise PolicyInvalid([Problem(1, "policy", "the file is empty")])
    r = _Reader()
    top = r.mapping(root, "", {"name", "description", "guardrails", "segments", "steps"}, {"steps"})
    if top is None:
        raise PolicyInvalid(r.problems)
    policy_name = r.text(top["name"], "name") if "name" in top else name
    description = r.text(top["description"], "description") if "description" in top else ""
    guardrails = _guardrails(r, top["guardrails"]) if "guardrails" in top else Guardrails()
    timing = _segments(r, top["segments"]) if "segments" in top else {}
    steps = _steps(r, top["steps"]) if "steps" in top else []
    if r.problems:
        raise PolicyInvalid(r.problems)
    return Policy(
        name=policy_name or name,
        steps=tuple(steps),
        guardrails=guardrails or Guardrails(),
        timing=timing,
        description=description or "",
    )


def _guardrails(r: _Reader, node: yaml.Node) -> Guardrails | None:
    key = "guardrails"
    fields = r.mapping(
        node,
        key,
        {
            "earliest_outreach_days",
            "exempt_stages",
            "min_touches_before_escalation",
            "frequency_cap",
            "skip_weekends",
            "skip_holidays",
            "business_hours",
            "fallback_channels",
        },
    )
    if fields is None:
        return None
    values: dict[str, Any] = {}
    for name in ("earliest_outreach_days", "min_touches_before_escalation"):
        if name in fields:
            values[name] = r.integer(fields[name], f"{key}.{name}", 0)
    for name in ("skip_weekends", "skip_holidays"):
        if name in fields:
            values[name] = r.boolean(fields[name], f"{key}.{name}")
    if "exempt_stages" in fields:
        values["exempt_stages"] = r.choices(
            fields["exempt_stages"], f"{key}.exempt_stages", Stage, _names(Stage)
        )
    if "frequency_cap" in fields:
        cap = r.mapping(
            fields["frequency_cap"],
            f"{key}.frequency_cap",
            {"touches", "days"},
            {"touches", "days"},
        )
        if cap is not None and {"touches", "days"} <= cap.keys():
            values["frequency_cap_touches"] = r.integer(
                cap["touches"], f"{key}.frequency_cap.touches", 1
            )
            values["frequency_cap_days"] = r.integer(cap["days"], f"{key}.frequency_cap.days", 1)
    if "business_hours" in fields:
        where = f"{key}.business_hours"
        hours = r.mapping(fields["business_hours"], where, {"start", "end"}, {"start", "end"})
        if hours is not None and {"start", "end"} <= hours.keys():
            start = r.clock(hours["start"], f"{where}.start")
            end = r.clock(hours["end"], f"{where}.end")
            if start is not None and end is not None:
                if start < end:
                    values["business_hours"] = BusinessHours(start, end)
                else:
                    r.fail(hours["end"], f"{where}.end", "must be after the start")
    if "fallback_channels" in fields:
        where = f"{key}.fallback_channels"
        items = r.sequence(fields["fallback_channels"], where)
        channels: list[Kind] = []
        for i, item in enumerate(items or []):
            kind = r.choice(item, f"{where}[{i}]", Kind, sorted(k.value for k in _TOUCHES))
            if kind is not None and kind not in _TOUCHES:
                r.fail(item, f"{where}[{i}]", "must be a channel: email, sms, letter or call")
            elif kind is not None:
                channels.append(kind)
        values["fallback_channels"] = tuple(channels)
    if any(v is None for v in values.values()):
        return None
    return Guardrails(**values)


_TOUCHES = (Kind.EMAIL, Kind.SMS, Kind.LETTER, Kind.CALL)


def _segments(r: _Reader, node: yaml.Node) -> dict[Segment, SegmentTiming]:
    fields = r.mapping(node, "segments", set(_names(Segment)))
    out: dict[Segment, SegmentTiming] = {}
    for name, value in (fields or {}).items():
        where = f"segments.{name}"
        entry = r.mapping(value, where, {"timing", "shift_days"})
        if entry is None:
            continue
        factor = r.decimal(entry["timing"], f"{where}.timing", True) if "timing" in entry else 1
        shift = (
            r.integer(entry["shift_days"], f"{where}.shift_days") if "shift_days" in entry else 0
        )
        if factor is not None and shift is not None:
            out[Segment(name)] = SegmentTiming(Decimal(factor), shift)
    return out


STEP_KEYS = {
    "id",
    "stage",
    "kind",
    "trigger",
    "when",
    "template",
    "script",
    "deadline_days",
    "requires_approval",
    "window_days",
    "description",
}


def _steps(r: _Reader, node: yaml.Node) -> list[Step]:
    items = r.sequence(node, "steps")
    if items is None:
        return []
    if not items:
        r.fail(node, "steps", "must list at least one step")
    steps: list[Step] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        step = _step(r, item, f"steps[{i}]")
        if step is None:
            continue
        if step.id in seen:
            r.fail(item, f"steps[{i}].id", f"duplicate step id {step.id!r} (first on line "
                   f"{seen[step.id]})")  # fmt: skip
            continue
        seen[step.id] = step.line
        steps.append(step)
    return steps


def _step(r: _Reader, node: yaml.Node, key: str) -> Step | None:
    before = len(r.problems)
    f = r.mapping(node, key, STEP_KEYS, {"id", "stage", "kind", "trigger"})
    if f is None or not {"id", "stage", "kind", "trigger"} <= f.keys():
        return None
    step_id = r.text(f["id"], f"{key}.id")
    if step_id is not None and not set(step_id) <= STEP_ID_CHARS:
        r.fail(f["id"], f"{key}.id", "use lower-case letters, digits, - and _ only")
    stage = r.choice(f["stage"], f"{key}.stage", Stage, _names(Stage))
    kind = r.choice(f["kind"], f"{key}.kind", Kind, _names(Kind))
    trigger = _trigger(r, f["trigger"], f"{key}.trigger")
    conditions = _conditions(r, f["when"], f"{key}.when") if "when" in f else Conditions()
    template = r.text(f["template"], f"{key}.template") if "template" in f else None
    script = r.text(f["script"], f"{key}.script") if "script" in f else None
    description = r.text(f["description"], f"{key}.description") if "description" in f else ""
    deadline = (
        r.integer(f["deadline_days"], f"{key}.deadline_days", 1) if "deadline_days" in f else None
    )
    window = r.integer(f["window_days"], f"{key}.window_days", 0) if "window_days" in f else None
    approval = (
        r.boolean(f["requires_approval"], f"{key}.requires_approval")
        if "requires_approval" in f
        else kind in APPROVAL_KINDS
    )
    if kind is not None:
        if kind in APPROVAL_KINDS and approval is False:
            r.fail(f["requires_approval"], f"{key}.requires_approval",
                   f"a {kind} proposal always requires approval")  # fmt: skip
        if "deadline_days" in f and kind is not Kind.LETTER:
            r.fail(f["deadline_days"], f"{key}.deadline_days", "only a letter sets a deadline")
        if "template" in f and kind not in (Kind.EMAIL, Kind.SMS, Kind.LETTER):
            r.fail(f["template"], f"{key}.template", "only e-mail, text and letter steps have one")
        if "script" in f and kind is not Kind.CALL:
            r.fail(f["script"], f"{key}.script", "only call steps have a call script")
    if len(r.problems) > before:
        return None
    assert step_id and stage and kind and trigger and conditions and approval is not None
    return Step(
        id=step_id,
        stage=stage,
        kind=kind,
        trigger=trigger,
        conditions=conditions,
        template=template,
        script=script,
        deadline_days=deadline,
        requires_approval=approval,
        window_days=window,
        description=description or "",
        line=node.start_mark.line + 1,
    )


def _trigger(r: _Reader, node: yaml.Node, key: str) -> Trigger | None:
    f = r.mapping(node, key, {"from", "after", "days"}, {"days"})
    if f is None:
        return None
    days = r.integer(f["days"], f"{key}.days") if "days" in f else None
    if ("from" in f) == ("after" in f):
        r.fail(node, key, "give either from: issue|due or after: STEP_ID")
        return None
    if "from" in f:
        anchor = r.choice(f["from"], f"{key}.from", Anchor, ["issue", "due"])
        if anchor is Anchor.STEP:
            r.fail(f["from"], f"{key}.from", "must be one of issue, due")
            return None
        if anchor is None or days is None:
            return None
        return Trigger(anchor, days)
    after = r.text(f["after"], f"{key}.after")
    if days is not None and days < 0:
        r.fail(f["days"], f"{key}.days", "must be at least 0 after a step")
        return None
    if after is None or days is None:
        return None
    return Trigger(Anchor.STEP, days, after)


def _amount_limit(
    r: _Reader, node: yaml.Node, key: str
) -> tuple[Decimal | None, dict[str, Decimal]] | None:
    """An amount limit: one number for every currency, or a mapping of
    currency codes (and ``default`` for the others) to numbers."""
    if not isinstance(node, yaml.MappingNode):
        amount = r.decimal(node, key)
        return None if amount is None else (amount, {})
    default: Decimal | None = None
    by_currency: dict[str, Decimal] = {}
    ok = True
    for k, v in node.value:
        name = k.value if isinstance(k, yaml.ScalarNode) else ""
        where = f"{key}.{name}"
        if name != "default" and not is_currency(name):
            r.fail(k, where, "must be an ISO 4217 currency code (e.g. EUR) or default")
            ok = False
            continue
        amount = r.decimal(v, where)
        if amount is None:
            ok = False
        elif name == "default":
            default = amount
        else:
            by_currency[name] = amount
    return (default, by_currency) if ok else None


def _conditions(r: _Reader, node: yaml.Node, key: str) -> Conditions | None:
    allowed = {"segments", "automation", "min_open_amount", "max_open_amount",
               "preferred_channel", "min_touches"}  # fmt: skip
    f = r.mapping(node, key, allowed)
    if f is None:
        return None
    values: dict[str, Any] = {}
    if "segments" in f:
        values["segments"] = r.choices(f["segments"], f"{key}.segments", Segment, _names(Segment))
    if "automation" in f:
        values["automation"] = r.choices(
            f["automation"], f"{key}.automation", Automation, _names(Automation)
        )
    for name in ("min_open_amount", "max_open_amount"):
        if name in f:
            limit = _amount_limit(r, f[name], f"{key}.{name}")
            if limit is None:
                return None
            default, by_currency = limit
            if default is not None:
                values[name] = default
            values[name.replace("_amount", "_by_currency")] = by_currency
    if "preferred_channel" in f:
        values["preferred_channels"] = r.choices(
            f["preferred_channel"], f"{key}.preferred_channel", Kind,
            [k.value for k in _TOUCHES],
        )  # fmt: skip
    if "min_touches" in f:
        values["min_touches"] = r.integer(f["min_touches"], f"{key}.min_touches", 0)
    if any(v is None for v in values.values()):
        return None
    return Conditions(**values)
