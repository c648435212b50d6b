"""Letters: the PDF as a customer and the post room see it, the letter
channel, print batches, tracking numbers and ``arrears letters``."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from arrears.comms import letters
from arrears.comms.channels import channel_for
from arrears.comms.compose import Composed
from arrears.comms.letters import (
    PAGE_GEOMETRY,
    LetterChannel,
    LetterError,
    PrintBatchError,
    letter_path,
    letter_pdf,
    letter_tracking_record,
    print_batch_create,
)
from arrears.comms.models import Brand, DeliveryEvent, Message, MessageStatus, PrintBatch
from arrears.comms.rendering import payment_reference
from arrears.ledger.models import Activity, Customer, Invoice

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)
DAY = date(2025, 3, 12)
BODY = (
    "<p>Dear Alex Morgan,</p><p>Despite our reminders the invoices below are still unpaid. "
    "This is our final demand.</p><p>Kind regards,<br>Sam Collector</p>"
)
ADDRESS = "Attn. Accounts Payable\nHafenstraße 12\n20457 Hamburg\nGermany"
MM_PER_PT = 25.4 / 72


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> None:
    # Message ids repeat from test to test; their letters must not.
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def brand(db: None) -> Brand:
    return Brand.objects.create(
        pk=1,
        company_name="Arrears Demo Ltd",
        postal_address="Musterstraße 1\n10115 Berlin\nGermany",
        phone="+49 30 1234567",
        legal_footer="Registered in Berlin HRB 12345 · VAT DE123456789",
        bank_name="Example Bank",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
    )


def customer_with_invoices(ref: str, name: str, *, invoices: int, country: str = "DE") -> Customer:
    customer = Customer.objects.create(
        ref=ref, name=name, country=country, postal_address=ADDRESS, language="en"
    )
    for i in range(invoices):
        Invoice.objects.create(
            ref=f"{ref}-INV-{i:03d}",
            customer=customer,
            order_ref=f"PO-{i:03d}",
            issue_date=date(2025, 1, 1),
            due_date=date(2025, 1, 31),
            amount=Decimal("100.00") + i,
            # Every third invoice in USD: the totals must stay apart.
            currency="USD" if i % 3 == 0 else "EUR",
        )
    return customer


def letter_context(customer: Customer, *, deadline: date | None = None) -> dict[str, Any]:
    """The message context's letter keys (``rendering.message_context``),
    built here from the customer's open invoices."""
    brand = Brand.objects.get(pk=1)
    today = NOW.date()
    invoices: list[dict[str, Any]] = [
        {
            "ref": inv.ref,
            "order_ref": inv.order_ref,
            "issue_date": inv.issue_date,
            "due_date": inv.due_date,
            "amount": inv.amount,
            "open_amount": inv.open_amount,
            "currency": inv.currency,
            "days_overdue": max((today - inv.due_date).days, 0),
        }
        for inv in customer.invoices.order_by("ref")
    ]
    totals: dict[str, Decimal] = {}
    for inv in invoices:
        totals[inv["currency"]] = totals.get(inv["currency"], Decimal(0)) + inv["open_amount"]
    return {
        "brand": brand,
        "customer": customer,
        "contact": None,
        "invoices": invoices,
        "totals": [{"currency": c, "open_amount": a} for c, a in sorted(totals.items())],
        "deadline": deadline,
        "payment": {
            "bank_name": brand.bank_name,
            "iban": brand.iban,
            "bic": brand.bic,
            "reference": f"RF00{customer.ref}",
            "instructions": brand.payment_instructions,
        },
        "collector": {"name": "Sam Collector", "email": "sam@example.com", "phone": "+4930999"},
        "today": today,
    }


def render(
    customer: Customer, *, deadline: date | None = None, page_size: str | None = None
) -> bytes:
    context = letter_context(customer, deadline=deadline)
    return letter_pdf(
        address_lines=[customer.name, *customer.postal_address.splitlines()],
        subject="Final demand: overdue invoices",
        body_html=BODY,
        context=context,
        page_size=page_size,
    )


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


@dataclass(frozen=True)
class Placed:
    text: str
    left_mm: float
    # The baseline's distance from the paper's top edge.
    baseline_mm: float


def placed_text(pdf: bytes, page: int = 0) -> list[Placed]:
    """Every run of text on a page with its position, from the top-left."""
    pdf_page = PdfReader(io.BytesIO(pdf)).pages[page]
    height = float(pdf_page.mediabox.height)
    found: list[Placed] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append(Placed(text.strip(), x * MM_PER_PT, (height - y) * MM_PER_PT))

    pdf_page.extract_text(visitor_text=visit)
    return found


def at(placed: list[Placed], text: str) -> Placed:
    matches = [p for p in placed if p.text == text]
    assert len(matches) == 1, f"{text!r} found {len(matches)} times: {placed}"
    return matches[0]


def inside_window(p: Placed, page_size: str) -> bool:
    left, top, width, height = PAGE_GEOMETRY[page_size].window
    # A 10 pt line reaches about 3.5 mm above its baseline.
    return left < p.left_mm < left + width - 30 and top + 3.5 < p.baseline_mm < top + height


# -- the PDF ------------------------------------------------------------------


def test_letter_shows_address_invoices_totals_per_currency_and_deadline() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=4)
    text = "\n".join(pages_text(render(customer, deadline=date(2025, 3, 26))))
    for line in ["Nordwind Handels GmbH", "Hafenstraße 12", "20457 Hamburg"]:
        assert line in text
    for ref in ["C1-INV-000", "C1-INV-001", "C1-INV-002", "C1-INV-003"]:
        assert ref in text
    assert "PO-002" in text
    # USD: 100 + 103; EUR: 101 + 102. Never one mixed total.
    assert "203.00 USD" in text
    assert "203.00 EUR" in text
    assert "406.00" not in text
    assert "Please pay 203.00 EUR and 203.00 USD by 26 March 2025" in text
    assert "Pay by" in text
    assert "12 March 2025" in text  # the letter's date
    assert "RF00C1" in text  # the payment reference
    assert "Sam Collector" in text
    assert "DE89 3704 0044 0532 0130 00" in text
    assert "Registered in Berlin HRB 12345" in text
    assert "Page 1 of 1" in text


def test_a_letter_without_deadline_does_not_invent_one() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    text = pages_text(render(customer))[0]
    assert "Please pay" not in text
    assert "Pay by" not in text


def test_recipient_sits_in_the_din_5008_window_below_the_return_line() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=2)
    placed = placed_text(render(customer))
    name, street, country = (
        at(placed, "Nordwind Handels GmbH"),
        at(placed, "Hafenstraße 12"),
        at(placed, "20457 Hamburg"),
    )
    for line in (name, street, country):
        assert inside_window(line, "A4"), line
    # DIN 5008 form B: the address starts 17.7 mm into the 45 mm field.
    assert 62 < name.baseline_mm < 68
    assert 24 < name.left_mm < 26
    [return_line] = [p for p in placed if p.text.startswith("Arrears Demo Ltd · Musterstraße 1")]
    # In the 5 mm at the field's top (6.5 pt type), through the window too.
    assert 20 < return_line.left_mm < 30
    assert 45 + 2 < return_line.baseline_mm < 50
    assert return_line.baseline_mm < name.baseline_mm
    # The subject comes after the address field, not through the window.
    assert at(placed, "Final demand: overdue invoices").baseline_mm > 90


def test_us_customers_get_us_letter_with_the_address_in_the_number_10_window() -> None:
    customer = customer_with_invoices("U1", "Prairie Supply Inc", invoices=1, country="US")
    pdf = render(customer)
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert inside_window(at(placed_text(pdf), "Prairie Supply Inc"), "letter")
    a4 = render(customer, page_size="A4")
    box = PdfReader(io.BytesIO(a4)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_sixty_invoices_run_over_pages_with_the_table_header_on_each() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=60)
    pages = pages_text(render(customer, deadline=date(2025, 3, 26)))
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of 3" in text
        assert "Registered in Berlin HRB 12345" in text
        assert "Invoice Order Issued Due Amount Open Days overdue" in text
    text = "\n".join(pages)
    for i in range(60):
        assert text.count(f"C1-INV-{i:03d}") == 1
    # 20 USD invoices (0, 3, ... 57): 20 x 100 + 3 x (0 + 1 + ... + 19) = 2,570.
    assert "2,570.00 USD" in text
    # The address is on the first page only.
    assert "Hafenstraße 12" in pages[0]
    assert "Hafenstraße 12" not in pages[1] + pages[2]


def test_a_letter_without_postal_address_is_refused() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    with pytest.raises(LetterError, match="no postal address"):
        letter_pdf(address_lines=["", " "], subject="s", body_html="<p>x</p>", context={})
    context = letter_context(customer)
    with pytest.raises(LetterError, match="9 lines"):
        letter_pdf(address_lines=["x"] * 9, subject="s", body_html="", context=context)


def test_a_template_cannot_put_local_files_into_the_letter(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    body = (
        f'<p>Hi</p><a rel="attachment" href="file://{secret}">x</a>'
        f'<img src="file://{secret}"><link rel="attachment" href="file://{secret}">'
    )
    pdf = letter_pdf(address_lines=["A", "B"], subject="s", body_html=body, context={})
    assert b"EmbeddedFile" not in pdf
    assert b"top secret" not in pdf


# -- the channel --------------------------------------------------------------


@pytest.fixture(autouse=True)
def context_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The channel builds its context with this file's ``letter_context``
    (``test_the_channel_renders_with_the_message_context`` uses the real one)."""
    monkeypatch.setattr(
        letters,
        "_message_context",
        lambda message, composed: letter_context(message.customer, deadline=message.deadline),
    )


def letter_message(customer: Customer, key: str, **fields: Any) -> Message:
    return Message.objects.create(
        customer=customer,
        channel="letter",
        template_key="final-demand",
        invoice_refs=list(customer.invoices.values_list("ref", flat=True)),
        not_before=NOW,
        next_attempt_at=NOW,
        idempotency_key=key,
        created_at=NOW,
        **fields,
    )


def composed_for(customer: Customer) -> Composed:
    return Composed(
        to=(customer.name, *customer.postal_address.splitlines()),
        contact_id=None,
        subject="Final demand",
        body_text="",
        body_html=BODY,
        template_version=1,
        language="en",
    )


def send(message: Message) -> Message:
    """What the outbox does: hand the letter over, record it as sent."""
    result = channel_for("letter").send(message, composed_for(message.customer))
    assert result.ok, result.error
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT, sent_at=NOW, provider_id=result.provider_id
    )
    message.refresh_from_db()
    return message


def test_the_letter_channel_stores_the_pdf_for_the_post_room() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=2)
    message = letter_message(customer, "k1", deadline=date(2025, 3, 26))
    channel = channel_for("letter")
    assert isinstance(channel, LetterChannel)
    result = channel.send(message, composed_for(customer))
    assert result.ok
    assert result.provider_id == letter_path(message) == f"letters/{message.pk}.pdf"
    with default_storage.open(result.provider_id) as f:
        text = PdfReader(f).pages[0].extract_text()
    assert "C1-INV-001" in text and "26 March 2025" in text
    # A repeat (a worker stopped mid-send) overwrites the same file.
    assert channel.send(message, composed_for(customer)).provider_id == result.provider_id


def test_the_channel_renders_with_the_message_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=3)
    Invoice.objects.filter(ref="C1-INV-002").update(allocated=Decimal("102.00"), status="paid")
    message = letter_message(customer, "k1", deadline=date(2025, 3, 26))
    result = LetterChannel().send(message, composed_for(customer))
    assert result.ok, result.error
    with default_storage.open(result.provider_id) as f:
        text = PdfReader(f).pages[0].extract_text()
    assert "C1-INV-000" in text and "C1-INV-001" in text
    assert "C1-INV-002" not in text  # paid since: not demanded
    assert payment_reference("C1") in text
    assert "26 March 2025" in text


def test_a_letter_without_address_is_refused_for_good() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    message = letter_message(customer, "k1")
    composed = Composed(
        to=(),
        contact_id=None,
        subject="s",
        body_text="",
        body_html="",
        template_version=1,
        language="en",
    )
    result = LetterChannel().send(message, composed)
    assert (result.ok, result.permanent) == (False, True)
    assert "no postal address" in result.error
    assert not default_storage.exists(letter_path(message))


# -- print batches ------------------------------------------------------------


def test_a_print_batch_puts_the_waiting_letters_in_one_pdf_once() -> None:
    one = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=60)
    two = customer_with_invoices("C2", "Sudwind AG", invoices=1)
    letters = [
        send(letter_message(one, "a")),
        send(letter_message(two, "b")),
        send(letter_message(two, "c")),
    ]
    queued = letter_message(two, "queued")  # not sent yet: not printed
    later = send(letter_message(two, "later"))
    Message.objects.filter(pk=later.pk).update(sent_at=NOW + timedelta(days=1))

    batch = print_batch_create(day=DAY, actor_label="test")

    assert batch is not None
    assert (batch.day, batch.letters) == (DAY, 3)
    with batch.pdf.open("rb") as f:
        pages = [p.extract_text() for p in PdfReader(f).pages]
    # A one-page cover, then 3 + 1 + 1 pages of letters, in customer order.
    assert len(pages) == 1 + 3 + 1 + 1
    assert "Print batch for 12 March 2025" in pages[0]
    assert "3 letters to 2 customers, 5 pages after this cover" in pages[0]
    assert "Nordwind Handels GmbH" in pages[1] and "Page 1 of 3" in pages[1]
    assert "Sudwind AG" in pages[4] and "Sudwind AG" in pages[5]
    assert set(Message.objects.filter(print_batch=batch)) == set(letters)
    assert not Message.objects.filter(pk__in=[queued.pk, later.pk], print_batch__isnull=False)
    printed = DeliveryEvent.objects.filter(kind="printed")
    assert sorted(e.message_id for e in printed) == sorted(m.pk for m in letters)
    assert "pages 2-4" in printed.get(message=letters[0]).detail
    activities = Activity.objects.filter(verb="letter printed")
    assert [a.customer_id for a in activities.order_by("customer_id")] == [one.pk, two.pk]
    assert activities.get(customer=two).data["messages"] == [letters[1].pk, letters[2].pk]

    # Again the same day: nothing new, nothing created.
    assert print_batch_create(day=DAY, actor_label="test") is None
    assert PrintBatch.objects.count() == 1
    assert DeliveryEvent.objects.filter(kind="printed").count() == 3
    # The next day takes the letter sent then.
    next_batch = print_batch_create(day=DAY + timedelta(days=1), actor_label="test")
    assert next_batch is not None and next_batch.letters == 1
    assert list(next_batch.messages.all()) == [later]


def test_a_batch_puts_us_letter_paper_after_a4_so_the_printer_changes_trays_once() -> None:
    us = customer_with_invoices("A-US", "Prairie Supply Inc", invoices=1, country="US")
    de = customer_with_invoices("B-DE", "Sudwind AG", invoices=1)
    send(letter_message(us, "a"))
    send(letter_message(de, "b"))
    batch = print_batch_create(day=DAY, actor_label="test")
    assert batch is not None
    with batch.pdf.open("rb") as f:
        reader = PdfReader(f)
        widths = [round(float(page.mediabox.width)) for page in reader.pages]
        cover = reader.pages[0].extract_text()
    assert widths == [595, 595, 612]
    assert "1 B-DE Sudwind AG final-demand" in cover and "A4 2" in cover
    assert "Letter 3" in cover


def test_a_missing_letter_pdf_stops_the_batch_and_batches_nothing() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    kept, lost = send(letter_message(customer, "a")), send(letter_message(customer, "b"))
    default_storage.delete(lost.provider_id)
    with pytest.raises(PrintBatchError, match=str(lost.pk)):
        print_batch_create(day=DAY, actor_label="test")
    assert not PrintBatch.objects.exists()
    assert not Message.objects.filter(pk__in=[kept.pk, lost.pk], print_batch__isnull=False)


# -- tracking numbers ---------------------------------------------------------


def test_a_tracking_number_is_recorded_once_and_normalised() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    message = send(letter_message(customer, "a"))
    recorded = letter_tracking_record(
        message=message, tracking_number=" rr 1234 5678 9de ", actor_label="post room"
    )
    assert recorded.tracking_number == "RR123456789DE"
    message.refresh_from_db()
    assert message.tracking_number == "RR123456789DE"
    event = DeliveryEvent.objects.get(kind="tracked")
    assert "RR123456789DE" in event.detail
    activity = Activity.objects.get(verb="tracking number recorded")
    assert (activity.customer, activity.data["tracking_number"]) == (customer, "RR123456789DE")
    letter_tracking_record(message=message, tracking_number="RR123456789DE", actor_label="x")
    assert DeliveryEvent.objects.filter(kind="tracked").count() == 1
    letter_tracking_record(message=message, tracking_number="RR000000001DE", actor_label="x")
    latest = DeliveryEvent.objects.filter(kind="tracked").latest("id")
    assert "was RR123456789DE" in latest.detail


@pytest.mark.parametrize("number", ["", "   ", "ABCDEFG", "12/34", "RR1", "X" * 39 + "12"])
def test_a_tracking_number_that_is_not_one_is_refused(number: str) -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    message = send(letter_message(customer, "a"))
    with pytest.raises(LetterError):
        letter_tracking_record(message=message, tracking_number=number, actor_label="x")
    assert not DeliveryEvent.objects.filter(kind="tracked").exists()


def test_only_a_sent_letter_takes_a_tracking_number() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    queued = letter_message(customer, "a")
    with pytest.raises(LetterError, match="queued"):
        letter_tracking_record(message=queued, tracking_number="RR123456789DE", actor_label="x")
    email = Message.objects.create(
        customer=customer,
        channel="email",
        template_key="reminder",
        status=MessageStatus.SENT,
        not_before=NOW,
        next_attempt_at=NOW,
        idempotency_key="e",
        created_at=NOW,
    )
    with pytest.raises(LetterError, match="not a letter"):
        letter_tracking_record(message=email, tracking_number="RR123456789DE", actor_label="x")


# -- arrears letters ----------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def arrears(*args: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return Outcome(exc.returncode, out.getvalue(), str(exc))
    return Outcome(0, out.getvalue(), err.getvalue())


def test_letters_batch_prints_the_pdf_path_and_then_nothing() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    send(letter_message(customer, "a"))
    first = arrears("letters", "batch", "--day", "2025-03-12")
    assert first.code == 0
    path = Path(first.stdout.strip())
    assert path.is_file() and len(PdfReader(path).pages) == 2
    again = arrears("letters", "batch", "--day", "2025-03-12")
    assert (again.code, again.stdout) == (0, "")
    assert "no letters waiting" in again.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("letters", "batch", "--day", "12.03.2025"),
        ("letters", "batch", "extra"),
        ("letters", "track", "1"),
        ("letters", "track", "x", "RR123456789DE"),
        ("letters", "track", "999999", "RR123456789DE"),
    ],
)
def test_letters_bad_input_exits_2(args: tuple[str, ...]) -> None:
    assert arrears(*args).code == 2


def test_letters_track_records_the_number_or_exits_2() -> None:
    customer = customer_with_invoices("C1", "Nordwind Handels GmbH", invoices=1)
    message = send(letter_message(customer, "a"))
    bad = arrears("letters", "track", str(message.pk), "??")
    assert bad.code == 2 and "not a tracking number" in bad.stderr
    good = arrears("letters", "track", str(message.pk), "RR123456789DE")
    assert good.code == 0 and "RR123456789DE" in good.stdout
    message.refresh_from_db()
    assert message.tracking_number == "RR123456789DE"
