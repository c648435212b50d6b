"""The template catalog: the templates shipped with Arrears, their versions
in the database, the active one per key, channel and language, saving an
edit as a new version, and previews with sample data.

Shipped templates live in ``comms/shipped/<key>.yaml``, one file per key
(the policy step's ``template`` or ``script``) holding every channel and
language of it::

    key: inquiry
    description: …
    email:
      list_unsubscribe: true        # optional, per channel
      en: {subject: …, html: …, text: …}
      de: {subject: …, html: …, text: …}
    letter:
      en: {subject: …, html: …}     # a body fragment: the letter layout adds the rest
    sms:
      en: "the text"
    call:
      en: "the call script"

How a changed shipped file is synced (``templates_sync``): it becomes a new
version with ``source`` "shipped". That version is activated when the active
one is itself a shipped version (nobody edited the template); when a
person's edit is active, the edit stays active and the new shipped version
is only added (listed, previewable, activatable), so an upgrade never
overwrites wording a user chose.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template import TemplateSyntaxError
from django.utils import timezone

from arrears.ledger.models import Customer
from arrears.ledger.services import activity_record

from .models import MessageTemplate, TemplateChannel
from .rendering import (
    Rendered,
    message_context,
    sample_context,
    template_engine,
    template_render,
)

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
FALLBACK_LANGUAGE = "en"
CHANNELS = tuple(TemplateChannel.values)


class TemplateMissing(LookupError):
    """No active template for a key and channel, in the language asked for
    or in English."""


class TemplateInvalid(ValueError):
    """A template that does not compile; the message names the part
    (subject, body, text) and the line."""


@dataclass(frozen=True)
class ShippedTemplate:
    key: str
    channel: str
    language: str
    subject: str
    body: str
    body_text: str
    list_unsubscribe: bool

    @property
    def sha256(self) -> str:
        return _digest(self.subject, self.body, self.body_text, self.list_unsubscribe)


def _digest(subject: str, body: str, body_text: str, list_unsubscribe: bool) -> str:
    payload = json.dumps([subject, body, body_text, list_unsubscribe], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _parse(path: Path) -> list[ShippedTemplate]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    key = document["key"]
    if key != path.stem:
        raise ValueError(f"{path.name}: key {key!r} does not match the file name")
    found = []
    for channel in CHANNELS:
        section = document.get(channel)
        if not section:
            continue
        unsubscribe = bool(section.get("list_unsubscribe", channel == "email"))
        for language, content in section.items():
            if language == "list_unsubscribe":
                continue
            if isinstance(content, str):
                subject, body, body_text = "", content, ""
            else:
                subject = content.get("subject", "")
                body = content["html"]
                body_text = content.get("text", "")
            found.append(
                ShippedTemplate(
                    key=key,
                    channel=channel,
                    language=language,
                    subject=subject.strip(),
                    body=body,
                    body_text=body_text,
                    list_unsubscribe=unsubscribe and channel == "email",
                )
            )
    return found


@cache
def shipped_templates() -> tuple[ShippedTemplate, ...]:
    """Every template shipped in ``comms/shipped/``, read once per process."""
    return tuple(t for path in sorted(SHIPPED_DIR.glob("*.yaml")) for t in _parse(path))


def shipped_descriptions() -> dict[str, str]:
    """Each shipped key's one-line description, for the staff pages."""
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8")).get("description", "")
        for path in sorted(SHIPPED_DIR.glob("*.yaml"))
    }


@dataclass(frozen=True)
class SyncResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_user_edits: int = 0


def templates_sync(*, actor_label: str) -> SyncResult:
    """Load the shipped templates into the database. Idempotent: a second
    call with the same files changes nothing, and two processes syncing at
    the same moment (workers starting on a new database) both succeed.

    A template new to the database becomes version 1 (active unless a
    person already made one for that key); a changed shipped file becomes
    a new version, activated only when no user edit is active (see the
    module docstring).
    """
    try:
        return _templates_sync(actor_label)
    except IntegrityError:
        # Another process inserted the same versions first (row locks cannot
        # guard rows that do not exist yet); its rows are committed now, so
        # a second pass finds them and changes nothing.
        return _templates_sync(actor_label)


@transaction.atomic
def _templates_sync(actor_label: str) -> SyncResult:
    created = updated = unchanged = kept = 0
    existing: dict[tuple[str, str, str], list[MessageTemplate]] = {}
    for row in MessageTemplate.objects.select_for_update().order_by("-version"):
        existing.setdefault((row.key, row.channel, row.language), []).append(row)
    for shipped in shipped_templates():
        versions = existing.get((shipped.key, shipped.channel, shipped.language), [])
        last_shipped = next((v for v in versions if v.source == "shipped"), None)
        if last_shipped is not None and last_shipped.sha256 == shipped.sha256:
            unchanged += 1
            continue
        active = next((v for v in versions if v.is_active), None)
        activate = active is None or active.source == "shipped"
        if activate and active is not None:
            MessageTemplate.objects.filter(pk=active.pk).update(is_active=False)
        MessageTemplate.objects.create(
            key=shipped.key,
            channel=shipped.channel,
            language=shipped.language,
            version=(versions[0].version + 1) if versions else 1,
            subject=shipped.subject,
            body=shipped.body,
            body_text=shipped.body_text,
            list_unsubscribe=shipped.list_unsubscribe,
            is_active=activate,
            source="shipped",
            sha256=shipped.sha256,
            created_by=actor_label,
        )
        if last_shipped is None and not versions:
            created += 1
        elif activate:
            updated += 1
        else:
            kept += 1
    return SyncResult(created=created, updated=updated, unchanged=unchanged, kept_user_edits=kept)


def templates_ensure_loaded() -> None:
    """Load the shipped templates when the database holds none of them yet
    (a new database that skipped ``arrears demo`` or an explicit sync)."""
    if not MessageTemplate.objects.filter(source="shipped").exists():
        templates_sync(actor_label="system (templates loaded on first use)")


def _languages(language: str) -> list[str]:
    """``de-AT`` → ["de-AT", "de", "en"]: the language, its base, English."""
    tried = [language] if language else []
    base = language.split("-")[0].split("_")[0].lower() if language else ""
    for candidate in (base, FALLBACK_LANGUAGE):
        if candidate and candidate not in tried:
            tried.append(candidate)
    return tried


def template_active(key: str, channel: str, language: str) -> MessageTemplate:
    """The active template for ``key`` and ``channel`` in ``language``, or
    in its base language, or in English. Loads the shipped templates first
    when the database holds none yet. TemplateMissing when there is none."""
    templates_ensure_loaded()
    languages = _languages(language)

    def active() -> dict[str, MessageTemplate]:
        return {
            t.language: t
            for t in MessageTemplate.objects.filter(
                key=key, channel=channel, language__in=languages, is_active=True
            )
        }

    rows = active()
    if not rows and any(t.key == key and t.channel == channel for t in shipped_templates()):
        # A template shipped with a newer release than the database has seen
        # (workers sync at start; this covers a web process that got here first).
        templates_sync(actor_label="system (a new shipped template)")
        rows = active()
    for candidate in languages:
        if candidate in rows:
            return rows[candidate]
    raise TemplateMissing(
        f"no active {channel} template {key!r} in {' or '.join(languages)}; "
        "add one on the templates page"
    )


def template_check(*, subject: str, body: str, body_text: str) -> None:
    """Raise TemplateInvalid naming the part and line of the first syntax
    error (an unknown tag or filter, an unclosed block)."""
    for part, source in (("subject", subject), ("body", body), ("text", body_text)):
        try:
            template_engine().from_string(source)
        except TemplateSyntaxError as error:
            debug: dict[str, Any] = getattr(error, "template_debug", None) or {}
            line = debug.get("line")
            where = f"{part}, line {line}" if line else part
            raise TemplateInvalid(f"{where}: {error}") from error


@transaction.atomic
def template_save(
    *,
    key: str,
    channel: str,
    language: str,
    subject: str,
    body: str,
    body_text: str = "",
    list_unsubscribe: bool = True,
    actor_label: str,
) -> MessageTemplate:
    """Save an edit as a new active version (``source`` "user"); the
    previous version stays, inactive. TemplateInvalid when it does not
    compile or cannot be rendered with the sample data; ValueError for an
    unknown channel."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    template_check(subject=subject, body=body, body_text=body_text)
    draft = MessageTemplate(
        key=key,
        channel=channel,
        language=language,
        version=0,
        subject=subject,
        body=body,
        body_text=body_text,
        list_unsubscribe=list_unsubscribe and channel == "email",
    )
    try:
        template_preview(draft)
    except TemplateInvalid:
        raise
    except Exception as error:  # a filter's bad argument shows only when rendering
        raise TemplateInvalid(f"cannot render with the sample data: {error}") from error
    # Lock the key's versions: two saves at once get consecutive versions.
    versions = MessageTemplate.objects.select_for_update().filter(
        key=key, channel=channel, language=language
    )
    latest = versions.aggregate(latest=Max("version"))["latest"] or 0
    versions.filter(is_active=True).update(is_active=False)
    draft.version = latest + 1
    draft.is_active = True
    draft.source = "user"
    draft.sha256 = _digest(subject, body, body_text, draft.list_unsubscribe)
    draft.created_by = actor_label
    draft.save()
    activity_record(
        actor_label=actor_label,
        verb="template saved",
        subject_type="template",
        subject_ref=f"{key} {channel} {language} v{draft.version}",
        why="edited; the previous version stays available",
    )
    return draft


@transaction.atomic
def template_activate(*, template: MessageTemplate, actor_label: str) -> MessageTemplate:
    """Make ``template`` (an older version, or a shipped update kept
    inactive behind a user's edit) the active version of its key."""
    MessageTemplate.objects.select_for_update().filter(
        key=template.key, channel=template.channel, language=template.language, is_active=True
    ).exclude(pk=template.pk).update(is_active=False)
    MessageTemplate.objects.filter(pk=template.pk).update(is_active=True)
    template.is_active = True
    activity_record(
        actor_label=actor_label,
        verb="template version in use",
        subject_type="template",
        subject_ref=f"{template.key} {template.channel} {template.language} v{template.version}",
    )
    return template


def template_preview(
    template: MessageTemplate,
    *,
    sample: bool = True,
    customer: Customer | None = None,
    today: date | None = None,
) -> Rendered:
    """``template`` rendered for reading. With ``sample`` (the default)
    the built-in sample data are used: a customer, its AP contact and three
    open invoices in two currencies. ``sample=False`` renders with
    ``customer``'s own open invoices instead (ValueError without one)."""
    today = today or timezone.localdate()
    if sample:
        context = sample_context(language=template.language, channel=template.channel, today=today)
    else:
        if customer is None:
            raise ValueError("a preview without sample data needs a customer")
        refs = list(customer.invoices.filter(status="open").values_list("ref", flat=True))
        context = message_context(
            customer=customer,
            invoice_refs=refs,
            deadline=None,
            contact=customer.contacts.filter(is_active=True).first(),
            now=timezone.now(),
            channel=template.channel,
        )
    return template_render(template, context)
