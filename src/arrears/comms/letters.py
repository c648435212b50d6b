"""Letters: a PDF per message, rendered with WeasyPrint, kept until the day's
print batch takes it to the post room; tracking numbers for special delivery.

A letter is "sent" when its PDF is stored (``letters/<message id>.pdf``): it
then waits for ``print_batch_create``, which concatenates the waiting letters
into one PDF and marks them "printed". The layout puts the recipient in the
window of a window envelope: DIN 5008 form B (DL envelope, left window) on
A4, a #10 window envelope on US Letter.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from arrears.domain.money import Money, MoneyError
from arrears.ledger.services import activity_record

from .channels import Channel, DeliveryResult, register
from .compose import Composed
from .models import DeliveryEvent, Message, MessageStatus, PrintBatch

# Countries whose post and paper trade use US Letter and #10 envelopes.
LETTER_PAPER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "PR"})
# A postal block longer than this does not fit any envelope window.
MAX_ADDRESS_LINES = 8


@dataclass(frozen=True)
class PageGeometry:
    """Where things sit on the first page, in millimetres from the paper's
    top-left corner. ``window`` is (left, top, width, height) of the address
    field the envelope's window shows."""

    css_size: str
    width: float
    height: float
    margin_left: float
    margin_right: float
    window: tuple[float, float, float, float]
    # Where the recipient's lines start when they are few (below the return
    # line and room for a postal endorsement such as "Registered").
    recipient_top: float
    info_left: float
    info_top: float
    subject_top: float
    fold_marks: tuple[float, ...]
    punch_mark: float


PAGE_GEOMETRY = {
    # DIN 5008 form B: address field 20 mm from the left, 45 mm from the top,
    # 85 x 45 mm (5 mm return line, 12.7 mm endorsement zone, 27.3 mm
    # address); information block from 125 mm; folds at 105 and 210 mm for a
    # DL envelope (window 90 x 45 mm, 20 mm from the left, 15 mm from the
    # bottom).
    "A4": PageGeometry(
        css_size="A4",
        width=210,
        height=297,
        margin_left=25,
        margin_right=20,
        window=(20, 45, 85, 45),
        recipient_top=62.7,
        info_left=125,
        info_top=50,
        subject_top=98.5,
        fold_marks=(105, 210),
        punch_mark=148.5,
    ),
    # A #10 window envelope (window 4.5 x 1.125 in, 7/8 in from the left,
    # 1/2 in from the bottom) with the letter folded in thirds: the window
    # shows about 1.75 in to 3.2 in from the letter's top edge.
    "letter": PageGeometry(
        css_size="letter",
        width=215.9,
        height=279.4,
        margin_left=25.4,
        margin_right=20,
        window=(22.2, 44.5, 101.6, 36),
        recipient_top=52,
        info_left=127,
        info_top=50,
        subject_top=96,
        fold_marks=(93.1, 186.3),
        punch_mark=139.7,
    ),
}


class LetterError(ValueError):
    """A letter that cannot be rendered or recorded; the message says why."""


def page_size_for(country: str) -> str:
    """ "letter" for countries that post on US Letter, else "A4"."""
    return "letter" if country.upper() in LETTER_PAPER_COUNTRIES else "A4"


def _date_text(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    # Month names, not numbers: 03/04/2025 means two dates on two continents.
    return f"{value.day} {value:%B %Y}"


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "")


def _money_text(amount: Any, currency: str) -> str:
    try:
        return str(Money(Decimal(amount), currency))
    except (MoneyError, ArithmeticError, TypeError, ValueError):
        return f"{amount} {currency}"


def _field(obj: Any, name: str, default: Any = "") -> Any:
    """A value from a model row or a mapping (hand-built contexts)."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _colour(value: str) -> str:
    # Only a hex colour reaches the style sheet: the brand is edited in the
    # web app, and anything else could inject CSS.
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?", value or "") else "#1f4e79"


def _iban_text(iban: str) -> str:
    compact = re.sub(r"\s+", "", iban or "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _letter_document(
    *,
    address_lines: Sequence[str],
    subject: str,
    body_html: str,
    context: Mapping[str, Any],
    page_size: str | None,
) -> tuple[dict[str, Any], PageGeometry, str]:
    lines = [line.strip() for line in address_lines if line and line.strip()]
    if not lines:
        raise LetterError("no postal address")
    if len(lines) > MAX_ADDRESS_LINES:
        raise LetterError(
            f"the postal address has {len(lines)} lines; "
            f"at most {MAX_ADDRESS_LINES} fit an envelope window"
        )
    customer = context.get("customer")
    size = page_size or page_size_for(str(_field(customer, "country", "")))
    if size not in PAGE_GEOMETRY:
        raise LetterError(f"unknown page size {size!r} (one of {', '.join(PAGE_GEOMETRY)})")
    geometry = PAGE_GEOMETRY[size]
    brand = context.get("brand")
    payment = context.get("payment") or {}
    collector = context.get("collector") or {}
    invoices = context.get("invoices") or []
    rows = [
        {
            "ref": _field(inv, "ref"),
            "order_ref": _field(inv, "order_ref"),
            "issue_date": _iso(_field(inv, "issue_date")),
            "due_date": _iso(_field(inv, "due_date")),
            "amount": _money_text(_field(inv, "amount"), _field(inv, "currency")),
            "open_amount": _money_text(_field(inv, "open_amount"), _field(inv, "currency")),
            "days_overdue": d if (d := _field(inv, "days_overdue", 0) or 0) > 0 else "\u2013",
        }
        for inv in invoices
    ]
    totals = [
        _money_text(_field(total, "open_amount"), _field(total, "currency"))
        for total in context.get("totals") or []
    ]
    deadline = context.get("deadline")
    today = context.get("today") or timezone.localdate()
    company = str(_field(brand, "company_name"))
    brand_address = _lines(str(_field(brand, "postal_address")))
    # The return line goes through the window: the post returns undeliverable
    # letters there without opening them.
    return_line = " · ".join([company, *brand_address]) if company else ""
    x, y, w, h = geometry.window
    # Long postal blocks start higher, in the endorsement zone.
    recipient_top = geometry.recipient_top if len(lines) <= 6 else y + 6
    letter = {
        "address_lines": lines,
        "customer_name": lines[0],
        "return_line": return_line,
        "subject": subject,
        # HTML the template engine rendered, with the data escaped there.
        "body_html": mark_safe(body_html),
        "date_text": _date_text(today),
        "customer_ref": _field(customer, "ref"),
        "payment_reference": _field(payment, "reference"),
        "deadline_text": _date_text(deadline),
        "rows": rows,
        "totals": totals,
        "brand_address": brand_address,
        "logo_url": str(_field(brand, "logo_url")),
        "colour": _colour(str(_field(brand, "primary_colour"))),
        "legal_footer": _lines(str(_field(brand, "legal_footer"))),
        "bank_name": _field(payment, "bank_name"),
        "iban": _iban_text(str(_field(payment, "iban"))),
        "bic": _field(payment, "bic"),
        "instructions": _field(payment, "instructions"),
        "collector_name": _field(collector, "name") or _field(brand, "sender_name"),
        "collector_email": _field(collector, "email") or _field(brand, "sender_email"),
        "collector_phone": _field(collector, "phone") or _field(brand, "phone"),
        "language": str(_field(customer, "language", "") or "en"),
        "g": geometry,
        "content_width": geometry.width - geometry.margin_left - geometry.margin_right,
        # Positions inside the first page's header, whose origin is the left
        # page margin at the paper's top edge.
        "window_left": x - geometry.margin_left,
        "window_top": y,
        "window_width": w,
        "window_height": h,
        "recipient_top": recipient_top - y,
        "info_left": geometry.info_left - geometry.margin_left,
        "info_width": geometry.width - geometry.margin_right - geometry.info_left,
        "mark_left": 5 - geometry.margin_left,
    }
    return {**context, "letter": letter}, geometry, str(_field(brand, "logo_url"))


def letter_html(
    *,
    address_lines: Sequence[str],
    subject: str,
    body_html: str,
    context: Mapping[str, Any],
    page_size: str | None = None,
) -> str:
    """The letter as HTML for WeasyPrint (see ``letter_pdf``)."""
    document, _, _ = _letter_document(
        address_lines=address_lines,
        subject=subject,
        body_html=body_html,
        context=context,
        page_size=page_size,
    )
    return render_to_string("comms/letter.html", document)


def _fetcher(logo_url: str) -> Any:
    from weasyprint.urls import URLFetcher

    class LetterFetcher(URLFetcher):  # type: ignore[misc]
        """Fetches data: URLs and the brand's logo, nothing else: a template
        could otherwise pull local files (file:) or internal URLs into a PDF
        that leaves the building."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:") or (logo_url and url == logo_url):
                return super().fetch(url, headers)
            raise ValueError(f"letters load no resources from {url[:80]!r}")

    return LetterFetcher(timeout=5)


def letter_pdf(
    *,
    address_lines: Sequence[str],
    subject: str,
    body_html: str,
    context: Mapping[str, Any],
    page_size: str | None = None,
) -> bytes:
    """Render one letter as a PDF.

    ``address_lines``: the postal block (name first), as in ``Composed.to``;
    ``body_html``: the template's rendered body fragment; ``context``: the
    message context (``rendering.message_context``: brand, customer,
    invoices, totals, deadline, payment, collector, today). ``page_size``
    "A4" or "letter"; None chooses by the customer's country. Raises
    ``LetterError`` when there is no usable address.
    """
    from weasyprint import HTML

    document, _, logo_url = _letter_document(
        address_lines=address_lines,
        subject=subject,
        body_html=body_html,
        context=context,
        page_size=page_size,
    )
    html = render_to_string("comms/letter.html", document)
    pdf = HTML(string=html, url_fetcher=_fetcher(logo_url)).write_pdf()
    assert pdf is not None  # write_pdf() without a target returns the bytes
    return bytes(pdf)


def letter_path(message: Message) -> str:
    """Where the letter's PDF is kept in the default storage."""
    return f"letters/{message.pk}.pdf"


def _message_context(message: Message, composed: Composed) -> dict[str, Any]:
    from .rendering import message_context

    contact = message.contact if composed.contact_id else None
    return dict(
        message_context(
            customer=message.customer,
            invoice_refs=list(message.invoice_refs),
            deadline=message.deadline,
            contact=contact,
            now=timezone.now(),
            channel="letter",
        )
    )


@register
class LetterChannel(Channel):
    """Renders the letter and stores its PDF for the next print batch.

    Storing the same message again overwrites the same file, and nothing is
    posted before the print batch: an interrupted send can be repeated.
    """

    kind = "letter"
    idempotent = True

    def send(self, message: Message, composed: Composed) -> DeliveryResult:
        try:
            pdf = letter_pdf(
                address_lines=composed.to,
                subject=composed.subject,
                body_html=composed.body_html,
                context=_message_context(message, composed),
            )
        except LetterError as exc:
            return DeliveryResult.refused(f"letter not rendered: {exc}")
        except Exception as exc:  # WeasyPrint's and the template's errors
            return DeliveryResult.refused(f"letter not rendered: {type(exc).__name__}: {exc}")
        name = letter_path(message)
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
            stored = default_storage.save(name, ContentFile(pdf))
        except OSError as exc:
            return DeliveryResult.retry(f"letter not stored: {exc}")
        return DeliveryResult.sent(provider_id=stored)


# -- print batches -----------------------------------------------------------


class PrintBatchError(RuntimeError):
    """A waiting letter's PDF cannot be read; nothing was batched."""


@dataclass(frozen=True)
class _Batched:
    message: Message
    reader: Any  # pypdf.PdfReader
    first: int  # its first page, counted from the first letter

    @property
    def pages(self) -> int:
        return len(self.reader.pages)

    @property
    def paper(self) -> str:
        box = self.reader.pages[0].mediabox
        # US Letter is 612 x 792 pt; everything else is printed on A4.
        return "Letter" if round(float(box.width)) == 612 else "A4"


def _cover_pdf(*, day: date, batched: list[_Batched], offset: int) -> bytes:
    from weasyprint import HTML

    html = render_to_string(
        "comms/print_batch_cover.html",
        {
            "day": day,
            "day_text": _date_text(day),
            "entries": [
                {
                    "message_id": b.message.pk,
                    "customer_ref": b.message.customer.ref,
                    "customer_name": b.message.customer.name,
                    "template_key": b.message.template_key,
                    "paper": b.paper,
                    "first": b.first + offset,
                    "last": b.first + offset + b.pages - 1,
                }
                for b in batched
            ],
            "letters": len(batched),
            "customers": len({b.message.customer_id for b in batched}),
            "pages": sum(b.pages for b in batched),
        },
    )
    pdf = HTML(string=html, url_fetcher=_fetcher("")).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def print_batch_create(
    *, day: date, actor_label: str, actor: User | None = None, now: datetime | None = None
) -> PrintBatch | None:
    """Put every letter waiting for the post room into one PDF for ``day``.

    Waiting: letter messages with status "sent", in no batch yet, sent on or
    before ``day``. The PDF starts with a cover page listing the letters and
    their pages. Each message is linked to the batch and gets a "printed"
    event; each customer an activity entry. None when no letter is waiting
    (running again creates nothing). ``PrintBatchError`` when a letter's PDF
    is missing: then nothing is batched.
    """
    from pypdf import PdfReader, PdfWriter

    at = now or timezone.now()
    with transaction.atomic():
        # Locks the waiting rows: a second run at the same time waits, then
        # finds them batched.
        waiting = list(
            Message.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(channel="letter", status=MessageStatus.SENT, print_batch__isnull=True)
            .exclude(sent_at__date__gt=day)
            .order_by("customer__ref", "id")
        )
        if not waiting:
            return None
        batched: list[_Batched] = []
        missing: list[int] = []
        for message in waiting:
            try:
                with default_storage.open(message.provider_id or letter_path(message)) as f:
                    reader = PdfReader(io.BytesIO(f.read()))
            except OSError:
                missing.append(message.pk)
                continue
            batched.append(_Batched(message=message, reader=reader, first=0))
        # A4 letters first, then US Letter: the printer changes trays once.
        batched.sort(key=lambda b: b.paper != "A4")
        first = 1
        for i, b in enumerate(batched):
            batched[i] = _Batched(message=b.message, reader=b.reader, first=first)
            first += b.pages
        if missing:
            raise PrintBatchError(
                "the PDF of letter message(s) "
                + ", ".join(str(pk) for pk in missing)
                + " is missing; send them again, then batch"
            )
        # The cover's own length shifts the page numbers it lists.
        offset = 1
        for _ in range(3):
            cover = _cover_pdf(day=day, batched=batched, offset=offset)
            cover_pages = len(PdfReader(io.BytesIO(cover)).pages)
            if cover_pages == offset:
                break
            offset = cover_pages
        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(cover)), outline_item="Cover")
        for b in batched:
            writer.append(
                b.reader, outline_item=f"{b.message.customer.ref} — message {b.message.pk}"
            )
        out = io.BytesIO()
        writer.write(out)
        batch = PrintBatch(day=day, letters=len(batched), created_by=actor_label)
        batch.pdf.save(f"{day.isoformat()}.pdf", ContentFile(out.getvalue()), save=True)
        try:
            Message.objects.filter(pk__in=[b.message.pk for b in batched]).update(print_batch=batch)
            DeliveryEvent.objects.bulk_create(
                DeliveryEvent(
                    message=b.message,
                    kind="printed",
                    at=at,
                    detail=f"print batch {batch.pk} of {day.isoformat()}, "
                    f"pages {b.first + offset}-{b.first + offset + b.pages - 1}",
                )
                for b in batched
            )
            by_customer: dict[int, list[Message]] = {}
            for b in batched:
                by_customer.setdefault(b.message.customer_id, []).append(b.message)
            for messages in by_customer.values():
                activity_record(
                    actor_label=actor_label,
                    actor=actor,
                    customer=messages[0].customer,
                    verb="letter printed",
                    subject_type="print_batch",
                    subject_ref=str(batch.pk),
                    why=f"print batch of {day.isoformat()} for the post room",
                    data={"print_batch": batch.pk, "messages": [m.pk for m in messages]},
                )
        except BaseException:
            # The transaction rolls back; the file would be an orphan.
            batch.pdf.delete(save=False)
            raise
    return batch


# -- tracking numbers ------------------------------------------------------

# Letters, digits, spaces and hyphens, with at least one digit: UPU S10
# ("RR123456789DE"), USPS (20-22 digits), Royal Mail, carriers' own.
_TRACKING = re.compile(r"[A-Z0-9-]{6,40}", re.ASCII)
_TRACKABLE = (MessageStatus.SENT, MessageStatus.DELIVERED)


def tracking_number_normalise(text: str) -> str:
    """The tracking number in upper case without spaces; ``LetterError``
    when it is empty or does not look like one."""
    compact = re.sub(r"\s+", "", text or "").upper()
    if not compact:
        raise LetterError("the tracking number is empty")
    if not _TRACKING.fullmatch(compact) or not any(c.isdigit() for c in compact):
        raise LetterError(
            f"{text.strip()[:60]!r} is not a tracking number "
            "(6 to 40 letters, digits and hyphens, with at least one digit)"
        )
    return compact


def letter_tracking_record(
    *,
    message: Message,
    tracking_number: str,
    actor_label: str,
    actor: User | None = None,
    now: datetime | None = None,
) -> Message:
    """Record the tracking number of a letter sent by special delivery.

    A "tracked" delivery event and an activity entry record it; a different
    number replaces the old one (both are in the event). Recording the same
    number again changes nothing. ``LetterError`` for a message that is not
    a sent letter or a number that does not look like one.
    """
    number = tracking_number_normalise(tracking_number)
    at = now or timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update().select_related("customer").get(pk=message.pk)
        if locked.channel != "letter":
            raise LetterError(f"message {locked.pk} is a {locked.channel} message, not a letter")
        if locked.status not in _TRACKABLE:
            raise LetterError(
                f"message {locked.pk} is {locked.status}; only a sent letter has a tracking number"
            )
        if locked.tracking_number == number:
            return locked
        previous = locked.tracking_number
        locked.tracking_number = number
        locked.save(update_fields=["tracking_number"])
        DeliveryEvent.objects.create(
            message=locked,
            kind="tracked",
            at=at,
            detail=f"tracking number {number}" + (f" (was {previous})" if previous else ""),
        )
        activity_record(
            actor_label=actor_label,
            actor=actor,
            customer=locked.customer,
            verb="tracking number recorded",
            subject_type="message",
            subject_ref=str(locked.pk),
            why="letter sent by special delivery",
            data={"tracking_number": number, "previous": previous},
        )
    return locked
