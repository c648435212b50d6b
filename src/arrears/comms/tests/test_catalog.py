"""The template catalog: shipped templates, versions, saving and previews."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import yaml

from arrears.comms import catalog
from arrears.comms.catalog import (
    SHIPPED_DIR,
    TemplateInvalid,
    TemplateMissing,
    shipped_templates,
    template_activate,
    template_active,
    template_preview,
    template_save,
    templates_sync,
)
from arrears.comms.models import MessageTemplate

pytestmark = pytest.mark.django_db

POLICY = SHIPPED_DIR.parent.parent / "sequencing" / "policies" / "default.yaml"


def _changed_shipped(monkeypatch: pytest.MonkeyPatch, key: str, subject: str) -> None:
    """The shipped files as after an upgrade that reworded one subject."""
    changed = tuple(
        replace(t, subject=subject) if (t.key, t.channel, t.language) == (key, "email", "en") else t
        for t in shipped_templates()
    )
    monkeypatch.setattr(catalog, "shipped_templates", lambda: changed)


def test_every_template_and_script_of_the_default_policy_is_shipped() -> None:
    steps = yaml.safe_load(POLICY.read_text())["steps"]
    named = {(s.get("template") or s.get("script"), s["kind"]) for s in steps}
    named.discard((None, "credit_hold"))
    shipped = {(t.key, t.channel) for t in shipped_templates()}
    for key, kind in named - {(None, k) for k in ("escalation", "agency", "write_off")}:
        assert (key, kind) in shipped, key
    for key in ("payment-plan-confirmation", "promise-confirmation"):
        assert (key, "email") in shipped
    for key in ("agency-turnover-warning", "management-letter", "final-demand"):
        assert {(key, "letter"), (key, "email")} <= shipped


def test_every_shipped_email_has_a_german_version_with_subject_html_and_text() -> None:
    emails = [t for t in shipped_templates() if t.channel == "email"]
    assert {t.key for t in emails if t.language == "de"} == {t.key for t in emails}
    for t in emails:
        assert t.subject and "<p>" in t.body and t.body_text, t


def test_sync_loads_every_shipped_template_once(db: None) -> None:
    first = templates_sync(actor_label="test")
    assert first.created == len(shipped_templates())
    again = templates_sync(actor_label="test")
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(shipped_templates()))
    assert MessageTemplate.objects.count() == len(shipped_templates())


def test_a_changed_shipped_file_becomes_the_active_new_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates_sync(actor_label="test")
    _changed_shipped(monkeypatch, "inquiry", "A new subject")
    result = templates_sync(actor_label="upgrade")
    assert result.updated == 1
    active = template_active("inquiry", "email", "en")
    assert (active.version, active.subject, active.source) == (2, "A new subject", "shipped")
    assert (
        MessageTemplate.objects.filter(key="inquiry", channel="email", language="en").count() == 2
    )


def test_a_user_edit_stays_active_when_the_shipped_file_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates_sync(actor_label="test")
    mine = template_save(
        key="inquiry",
        channel="email",
        language="en",
        subject="Our own words",
        body="<p>Hello {{ customer.name }}</p>",
        body_text="Hello {{ customer.name }}",
        actor_label="manager",
    )
    _changed_shipped(monkeypatch, "inquiry", "A new subject")
    assert templates_sync(actor_label="upgrade").kept_user_edits == 1
    assert template_active("inquiry", "email", "en") == mine
    upgrade = MessageTemplate.objects.get(key="inquiry", channel="email", language="en", version=3)
    assert (upgrade.is_active, upgrade.source) == (False, "shipped")
    template_activate(template=upgrade, actor_label="manager")
    assert template_active("inquiry", "email", "en").pk == upgrade.pk


def test_templates_are_loaded_on_first_use() -> None:
    assert not MessageTemplate.objects.exists()
    assert template_active("firm-call", "call", "en").source == "shipped"


def test_a_language_without_its_own_version_falls_back_to_english() -> None:
    assert template_active("inquiry", "email", "de-AT").language == "de"
    assert template_active("inquiry", "email", "fr").language == "en"
    assert template_active("firm-call", "call", "de").language == "en"


def test_a_missing_template_names_key_channel_and_languages() -> None:
    with pytest.raises(TemplateMissing, match=r"no active sms template 'final-demand' in fr or en"):
        template_active("final-demand", "sms", "fr")


def test_saving_adds_a_version_and_keeps_the_old_one() -> None:
    templates_sync(actor_label="test")
    saved = template_save(
        key="inquiry",
        channel="sms",
        language="en",
        subject="",
        body="{{ brand.company_name }}: {% total_open %} open.",
        actor_label="manager",
    )
    assert (saved.version, saved.source, saved.created_by) == (2, "user", "manager")
    versions = MessageTemplate.objects.filter(key="inquiry", channel="sms", language="en")
    assert [(v.version, v.is_active) for v in versions] == [(2, True), (1, False)]
    assert "EUR 1,730.40 and USD 2,400.00 open." in template_preview(saved).text


def test_a_template_that_does_not_compile_is_refused_naming_the_line() -> None:
    body = "<p>Hello</p>\n<p>{% if greeting_name %}Dear {{ greeting_name }}</p>\n"
    with pytest.raises(TemplateInvalid, match=r"^body, line 2: Unclosed tag"):
        template_save(
            key="inquiry",
            channel="email",
            language="en",
            subject="Hi",
            body=body,
            body_text="x",
            actor_label="manager",
        )
    with pytest.raises(TemplateInvalid, match=r"^subject, line 1: .*'nosuchfilter'"):
        template_save(
            key="inquiry",
            channel="email",
            language="en",
            subject="{{ x|nosuchfilter }}",
            body="<p>x</p>",
            body_text="x",
            actor_label="manager",
        )
    assert not MessageTemplate.objects.filter(source="user").exists()


def test_every_shipped_template_previews_with_the_sample_data() -> None:
    templates_sync(actor_label="test")
    for template in MessageTemplate.objects.all():
        rendered = template_preview(template, today=date(2025, 3, 10))
        text = rendered.html or rendered.text
        assert "{{" not in text and "{%" not in text, template
        assert "RF" in text or template.channel == "call", template
        if template.channel == "email":
            assert "INV-2031" in rendered.html and "INV-2031" in rendered.text
            assert rendered.subject and "\n" not in rendered.subject
            expected = "1.730,40 EUR" if template.language == "de" else "EUR 1,730.40"
            assert expected in rendered.html, template
        if template.channel == "sms":
            assert len(rendered.text) <= 320, (template, len(rendered.text))


def test_a_preview_with_a_customers_own_data(acme: object) -> None:
    template = template_active("firm-reminder", "email", "de")
    rendered = template_preview(template, sample=False, customer=acme)  # type: ignore[arg-type]
    assert "Acme Werkzeuge GmbH" in rendered.subject
    assert "A-3" in rendered.html and "A-4" not in rendered.html
    assert "1.300,00 EUR" in rendered.html
    with pytest.raises(ValueError, match="needs a customer"):
        template_preview(template, sample=False)


@pytest.mark.django_db(transaction=True)
def test_two_processes_loading_the_templates_at_once_both_succeed() -> None:
    import threading

    from django.db import connection

    from arrears.comms.catalog import shipped_templates, templates_sync
    from arrears.comms.models import MessageTemplate

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            barrier.wait()
            templates_sync(actor_label="race")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert MessageTemplate.objects.count() == len(shipped_templates())


@pytest.mark.django_db
def test_a_template_shipped_after_the_first_load_is_found() -> None:
    from arrears.comms.catalog import template_active, templates_sync
    from arrears.comms.models import MessageTemplate

    templates_sync(actor_label="t")
    # As after an upgrade: the database has the older set, without this key.
    MessageTemplate.objects.filter(key="dispute-rejected").delete()
    found = template_active("dispute-rejected", "email", "de")
    assert (found.key, found.language, found.source) == ("dispute-rejected", "de", "shipped")
