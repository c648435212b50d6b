"""Validated, atomic, idempotent imports of the contract's four files.

Rows are streamed in chunks: each chunk is validated (including references
looked up in one query) and written. After the first bad row nothing more
is written, but validation goes on so that every bad row is reported; then
the whole transaction is rolled back. Importing the same rows twice changes
nothing (upsert by ref). Payments and credit notes are money events: once
imported they are immutable, and a different row under the same ref is an
error (a correction is a new entry).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from arrears.domain.masterdata import (
    FieldError,
    country_code,
    email_addresses,
    iso_date,
    language_code,
    phone_number,
    postal_address_lines,
    tax_id,
    time_zone_name,
)
from arrears.domain.money import MoneyError, is_currency, parse_amount, quantum

from .bulk import ANALYZE_AFTER, rows_insert, statistics_refresh, values_by_ref
from .csvfiles import COLUMNS, KEPT_WHEN_ABSENT, Row, RowError, header
from .models import (
    Activity,
    Automation,
    Channel,
    Contact,
    ContactRole,
    CreditNote,
    Customer,
    ImportRun,
    Invoice,
    InvoiceStatus,
    Payment,
)
from .services import activities_record, activity_rows_insert, documents_post

CHUNK = 10_000


class ImportRejected(Exception):
    """Bad rows were found; nothing was written."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportSummary:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Per currency: never add amounts of different currencies.
    allocated: dict[str, Decimal] = field(default_factory=dict)
    unapplied: dict[str, Decimal] = field(default_factory=dict)

    def add_money(self, currency: str, allocated: Decimal, unapplied: Decimal) -> None:
        q = quantum(currency)
        self.allocated[currency] = (self.allocated.get(currency, Decimal(0)) + allocated).quantize(
            q
        )
        self.unapplied[currency] = (self.unapplied.get(currency, Decimal(0)) + unapplied).quantize(
            q
        )

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }
        if self.kind in {"payments", "credit-notes"}:
            result["allocated"] = {c: str(v) for c, v in sorted(self.allocated.items())}
            result["unapplied"] = {c: str(v) for c, v in sorted(self.unapplied.items())}
        return result


@dataclass(slots=True)
class _Clean:
    """Validated values of one row, or the reasons it is bad."""

    location: str
    required: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def fail(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.location, column, reason))

    def take(self, raw: Mapping[str, str], column: str, parse: Callable[[str], Any]) -> Any:
        """Parse one column; blank optional columns give None."""
        text = (raw.get(column) or "").strip()
        if not text:
            if column in self.required:
                self.fail(column, "is required")
            return None
        try:
            value = parse(text)
        except (FieldError, MoneyError) as exc:
            self.fail(column, str(exc))
            return None
        self.values[column] = value
        return value


def _currency(text: str) -> str:
    if not is_currency(text):
        raise FieldError(f"{text!r} is not an ISO 4217 currency code (e.g. USD, EUR)")
    return text


def _choice(options: type[Channel] | type[Automation]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options.values:
            raise FieldError(f"{text!r} is not one of {'|'.join(options.values)}")
        return text

    return parse


def _text(limit: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if len(text) > limit:
            raise FieldError(f"is longer than {limit} characters")
        return text

    return parse


_REF = _text(64)


def _amount(clean: _Clean, raw: Mapping[str, str], column: str, currency: str | None) -> None:
    if currency is None:
        if column in clean.required:
            given = (raw.get(column) or "").strip()
            clean.fail(
                column, "cannot be checked without a valid currency" if given else "is required"
            )
        return
    clean.take(raw, column, lambda text: parse_amount(text, currency))


class _Importer:
    kind: str
    ref_column: str

    def __init__(self, summary: ImportSummary, actor_label: str) -> None:
        self.summary = summary
        self.actor_label = actor_label
        self.seen: dict[str, str] = {}  # ref -> location of first occurrence
        self._customer_ids: dict[str, int] | None = None
        self.required = COLUMNS[self.kind][0]

    def clean(self, location: str, raw: Mapping[str, str]) -> _Clean:
        clean = _Clean(location, required=self.required)
        if "__shape__" in raw:
            clean.fail("-", f"row has {raw['__shape__']}")
            return clean
        ref = clean.take(raw, self.ref_column, _REF)
        if ref is not None:
            if ref in self.seen:
                clean.fail(self.ref_column, f"{ref!r} appears twice (first at {self.seen[ref]})")
            else:
                self.seen[ref] = location
        self.clean_fields(clean, raw)
        return clean

    def clean_fields(self, clean: _Clean, raw: Mapping[str, str]) -> None:
        raise NotImplementedError

    def check_references(self, rows: list[_Clean]) -> None:
        """Per-chunk checks against the database (one query per kind)."""

    def write(self, rows: list[_Clean]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once after the last chunk, when nothing was rejected."""

    def customer_ids_by_ref(self, rows: list[_Clean]) -> dict[str, int]:
        """Every customer's id by ref, loaded once per import; flags unknown refs.

        One query for the whole file beats one per chunk: 100,000 customers
        take a few MB, and a million-line file touches most of them.
        """
        if self._customer_ids is None:
            self._customer_ids = dict(
                Customer.objects.order_by().values_list("ref", "pk").iterator(chunk_size=20_000)
            )
        found = self._customer_ids
        for r in rows:
            ref = r.values.get("customer_ref")
            if ref is not None and ref not in found:
                r.fail("customer_ref", f"no customer {ref!r} (import customers first)")
        return found

    def log(self, customer: Customer, verb: str, refs: dict[str, list[str]]) -> Activity:
        return Activity(
            actor_label=self.actor_label,
            customer=customer,
            subject_type="customer",
            subject_ref=customer.ref,
            verb=verb,
            why="imported from file",
            data=refs,
        )


def _postal_address(text: str) -> str:
    return "\n".join(postal_address_lines(text))


class _CustomerImporter(_Importer):
    kind = "customers"
    ref_column = "customer_ref"
    # Column -> model attribute of the columns that leave a customer's field
    # as it is when the file does not have them (csvfiles.KEPT_WHEN_ABSENT).
    KEPT = {c: f"{c}_id" if c == "collector" else c for c in KEPT_WHEN_ABSENT["customers"]}
    # The other customer columns of the file; e-mail addresses become contacts.
    FIELDS = tuple(
        c
        for c in header("customers")
        if c not in {"customer_ref", "email", *KEPT_WHEN_ABSENT["customers"]}
    )
    KEPT_PARSERS: tuple[tuple[str, Callable[[str], str]], ...] = (
        ("postal_address", _postal_address),
        ("time_zone", time_zone_name),
        ("collector", _text(150)),  # a username, checked in check_references
    )

    def __init__(self, summary: ImportSummary, actor_label: str) -> None:
        super().__init__(summary, actor_label)
        self.collector_ids: dict[str, int] = {}

    def clean_fields(self, clean: _Clean, raw: Mapping[str, str]) -> None:
        clean.take(raw, "name", _text(200))
        country = clean.take(raw, "country", country_code)
        currency = clean.take(raw, "currency", _currency)
        clean.take(raw, "email", email_addresses)
        if country is not None:
            clean.take(raw, "phone", lambda t: phone_number(t, country))
            # Kept as given where no validator exists: the column width still applies.
            clean.take(raw, "tax_id", lambda t: _text(40)(tax_id(t, country)))
        elif (raw.get("phone") or raw.get("tax_id") or "").strip():
            clean.fail("country", "needed to check phone and tax_id")
        if (raw.get("credit_limit") or "").strip() and currency is None:
            clean.fail("credit_limit", "needs the customer's currency")
        elif currency is not None:
            clean.take(raw, "credit_limit", lambda t: parse_amount(t, currency, allow_zero=True))
        clean.take(raw, "preferred_channel", _choice(Channel))
        clean.take(raw, "automation", _choice(Automation))
        clean.take(raw, "language", language_code)
        clean.take(raw, "customer_since", iso_date)
        # Present in the values only when the file has the column; "" clears.
        for column, parse in self.KEPT_PARSERS:
            if column in raw and clean.take(raw, column, parse) is None:
                clean.values.setdefault(column, "")

    def check_references(self, rows: list[_Clean]) -> None:
        """Collectors by username: active users only, in one query per chunk."""
        names = {r.values["collector"] for r in rows if r.values.get("collector")}
        if not names:
            return
        user_model = get_user_model()
        username = user_model.USERNAME_FIELD
        self.collector_ids = dict(
            user_model._default_manager.filter(**{f"{username}__in": names}, is_active=True)
            .order_by()
            .values_list(username, "pk")
        )
        for r in rows:
            name = r.values.get("collector")
            if name and name not in self.collector_ids:
                r.fail("collector", f"no active user named {name!r}")

    def _field_values(self, values: dict[str, Any]) -> dict[str, Any]:
        result = {f: values.get(f) for f in self.FIELDS}
        for f in ("phone", "tax_id", "currency", "preferred_channel", "language"):
            result[f] = result[f] or ""
        result["automation"] = result["automation"] or Automation.AUTO
        for column, attribute in self.KEPT.items():
            if column in values:
                result[attribute] = values[column]
        if "collector_id" in result:
            name = result["collector_id"]
            result["collector_id"] = self.collector_ids[name] if name else None
        return result

    def _logged(self, diffs: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, list[str]]]:
        """Field diffs for the activity log, collectors by username (blank:
        none); the former collectors' names are looked up in one query."""
        names = {pk: name for name, pk in self.collector_ids.items()}
        former = {
            pk for d in diffs.values() for pk in d.get("collector_id", ()) if pk not in names
        } - {None}
        if former:
            user_model = get_user_model()
            names |= dict(
                user_model._default_manager.filter(pk__in=former).values_list(
                    "pk", user_model.USERNAME_FIELD
                )
            )
        logged = {}
        for ref, diff in diffs.items():
            if "collector_id" in diff:
                diff["collector"] = [names.get(pk, "") for pk in diff.pop("collector_id")]
            logged[ref] = {f: [str(old), str(new)] for f, (old, new) in diff.items()}
        return logged

    def write(self, rows: list[_Clean]) -> None:
        existing = {
            c.ref: c
            for c in Customer.objects.filter(ref__in=[r.values["customer_ref"] for r in rows])
        }
        new, log = [], []
        # By the fields a row sets: a column the file lacks is not written.
        changed: dict[tuple[str, ...], list[Customer]] = defaultdict(list)
        diffs: dict[str, dict[str, list[Any]]] = {}
        for r in rows:
            ref = r.values["customer_ref"]
            wanted = self._field_values(r.values)
            customer = existing.get(ref)
            if customer is None:
                new.append(Customer(ref=ref, **wanted))
                continue
            diff = {
                f: [getattr(customer, f), v] for f, v in wanted.items() if getattr(customer, f) != v
            }
            if diff:
                for f, v in wanted.items():
                    setattr(customer, f, v)
                changed[tuple(wanted)].append(customer)
                diffs[ref] = diff
        changes = self._logged(diffs)
        Customer.objects.bulk_create(new, batch_size=2000)
        for fields, customers_changed in changed.items():
            Customer.objects.bulk_update(customers_changed, list(fields), batch_size=2000)
        customers = {
            c.ref: c
            for c in Customer.objects.filter(ref__in=[r.values["customer_ref"] for r in rows])
        }
        contacts_changed = self._sync_contacts(rows, customers)
        for c in new:
            log.append(self.log(customers[c.ref], "customer.created", {}))
        for ref in (changes.keys() | contacts_changed.keys()) - {c.ref for c in new}:
            data: dict[str, Any] = {"fields": changes.get(ref, {})}
            if ref in contacts_changed:
                data["contacts"] = contacts_changed[ref]
            log.append(self.log(customers[ref], "customer.updated", data))
        activities_record(log)
        created_refs = {c.ref for c in new}
        updated = len((changes.keys() | contacts_changed.keys()) - created_refs)
        self.summary.created += len(new)
        self.summary.updated += updated
        self.summary.unchanged += len(rows) - len(new) - updated

    def _sync_contacts(
        self, rows: list[_Clean], customers: dict[str, Customer]
    ) -> dict[str, dict[str, list[str]]]:
        """Keep import-made AP contacts in step with the file's e-mail column.

        The file's phone number goes to the first contact. Addresses no longer
        listed are deactivated, not deleted: their history stays.
        """
        ids = [customers[r.values["customer_ref"]].pk for r in rows]
        current: dict[int, list[Contact]] = defaultdict(list)
        for contact in Contact.objects.filter(customer_id__in=ids, from_import=True):
            current[contact.customer_id].append(contact)
        create: list[Contact] = []
        update: list[Contact] = []
        changed: dict[str, dict[str, list[str]]] = {}
        for r in rows:
            customer = customers[r.values["customer_ref"]]
            emails: list[str] = r.values.get("email") or []
            phone = r.values.get("phone") or ""
            have = {c.email: c for c in current[customer.pk] if c.email}
            added = [e for e in emails if e not in have or not have[e].is_active]
            removed = [e for e, c in have.items() if e not in emails and c.is_active]
            for email in emails:
                existing_contact = have.get(email)
                contact_phone = phone if email == emails[0] else ""
                if existing_contact is None:
                    create.append(
                        Contact(
                            customer=customer,
                            role=ContactRole.AP,
                            email=email,
                            phone=contact_phone,
                            from_import=True,
                        )
                    )
                elif not existing_contact.is_active or existing_contact.phone != contact_phone:
                    existing_contact.is_active, existing_contact.phone = True, contact_phone
                    update.append(existing_contact)
            for email in removed:
                have[email].is_active = False
                update.append(have[email])
            phone_only = [c for c in current[customer.pk] if not c.email]
            if (
                not emails
                and phone
                and not any(c.phone == phone and c.is_active for c in phone_only)
            ):
                create.append(
                    Contact(customer=customer, role=ContactRole.AP, phone=phone, from_import=True)
                )
                added.append(phone)
            for c in phone_only:
                if c.is_active and (emails or c.phone != phone):
                    c.is_active = False
                    update.append(c)
                    removed.append(c.phone)
            if added or removed:
                changed[customer.ref] = {"added": added, "removed": removed}
        Contact.objects.bulk_create(create, batch_size=2000)
        if update:
            Contact.objects.bulk_update(update, ["is_active", "phone"], batch_size=2000)
        return changed


INVOICE_COLUMNS = (
    "ref",
    "customer_id",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "order_ref",
    "terms",
    "allocated",
    "status",
    "created_at",
)
WHY = "imported from file"


class _InvoiceImporter(_Importer):
    kind = "invoices"
    ref_column = "invoice_ref"
    MUTABLE = ("issue_date", "due_date", "order_ref", "terms")
    # Per customer, for one activity entry each at the end of the import.
    SAMPLE_REFS = 20

    def __init__(self, summary: ImportSummary, actor_label: str) -> None:
        super().__init__(summary, actor_label)
        self.per_customer: dict[int, dict[str, Any]] = {}
        self.first_load: bool | None = None

    def clean_fields(self, clean: _Clean, raw: Mapping[str, str]) -> None:
        clean.take(raw, "customer_ref", _REF)
        issue = clean.take(raw, "issue_date", iso_date)
        due = clean.take(raw, "due_date", iso_date)
        if issue is not None and due is not None and due < issue:
            clean.fail("due_date", f"{due} is before the issue date {issue}")
        currency = clean.take(raw, "currency", _currency)
        _amount(clean, raw, "amount", currency)
        clean.take(raw, "order_ref", _REF)
        clean.take(raw, "terms", _REF)

    def check_references(self, rows: list[_Clean]) -> None:
        self.customer_ids = self.customer_ids_by_ref(rows)
        if self.first_load is None:
            # Loading a ledger into an empty table (the first, biggest import)
            # needs no look-ups: duplicates within the file are caught by
            # ``seen``, and a concurrent import of the same refs fails on the
            # unique constraint and rolls back.
            self.first_load = not Invoice.objects.exists()
        if self.first_load:
            self.existing = {}
            return
        # Conflicts with invoices already imported are found here, not in
        # write(): writing stops at the first bad row, checking does not.
        self.existing = {
            ref: (pk, customer_id, amount, currency, (issue, due, order_ref, terms))
            for ref, pk, customer_id, amount, currency, issue, due, order_ref, terms in (
                values_by_ref(
                    Invoice,
                    [r.values["invoice_ref"] for r in rows if "invoice_ref" in r.values],
                    ("ref", "id", "customer_id", "amount", "currency", *self.MUTABLE),
                )
            )
        }
        for r in rows:
            v = r.values
            if r.errors or v["invoice_ref"] not in self.existing:
                continue
            _, old_customer, old_amount, old_currency, _ = self.existing[v["invoice_ref"]]
            if old_customer != self.customer_ids[v["customer_ref"]]:
                r.fail(
                    "customer_ref",
                    f"invoice {v['invoice_ref']!r} was imported for another customer;"
                    " an invoice cannot move between customers",
                )
            elif (old_amount, old_currency) != (v["amount"], v["currency"]):
                field = "amount" if old_currency == v["currency"] else "currency"
                r.fail(
                    field,
                    f"invoice {v['invoice_ref']!r} was imported as"
                    f" {old_amount.quantize(quantum(old_currency))} {old_currency};"
                    " correct it with a credit note",
                )

    def _note(self, customer_id: int, change: str, ref: str) -> None:
        entry = self.per_customer.setdefault(customer_id, {"created": 0, "updated": 0, "refs": []})
        entry[change] += 1
        if len(entry["refs"]) < self.SAMPLE_REFS:
            entry["refs"].append(ref)

    def write(self, rows: list[_Clean]) -> None:
        existing = self.existing
        new: list[tuple[Any, ...]] = []
        changed: list[Invoice] = []
        for r in rows:
            v = r.values
            customer_id = self.customer_ids[v["customer_ref"]]
            wanted = (v["issue_date"], v["due_date"], v.get("order_ref", ""), v.get("terms", ""))
            ref = v["invoice_ref"]
            if ref not in existing:
                new.append((ref, customer_id, v["amount"], v["currency"], *wanted))
                self._note(customer_id, "created", ref)
                continue
            pk, _, _, _, old_wanted = existing[ref]  # conflicts were refused in check_references
            if old_wanted != wanted:
                changed.append(Invoice(pk=pk, **dict(zip(self.MUTABLE, wanted, strict=True))))
                self._note(customer_id, "updated", ref)
        now = timezone.now()
        rows_insert(
            Invoice._meta.db_table,
            INVOICE_COLUMNS,
            ((*row, 0, InvoiceStatus.OPEN, now) for row in new),
        )
        if changed:
            Invoice.objects.bulk_update(changed, list(self.MUTABLE), batch_size=2000)
        self.summary.created += len(new)
        self.summary.updated += len(changed)
        self.summary.unchanged += len(rows) - len(new) - len(changed)

    def finish(self) -> None:
        refs = {pk: ref for ref, pk in (self._customer_ids or {}).items()}
        now = timezone.now()
        activity_rows_insert(
            (
                (now, self.actor_label, pk, "customer", refs[pk], "invoices.imported", WHY, entry)
                for pk, entry in self.per_customer.items()
            ),
        )


class _DocumentImporter(_Importer):
    """Payments and credit notes: immutable once imported, then allocated."""

    model: type[Payment] | type[CreditNote]
    date_column: str

    def clean_fields(self, clean: _Clean, raw: Mapping[str, str]) -> None:
        clean.take(raw, "customer_ref", _REF)
        clean.take(raw, self.date_column, iso_date)
        currency = clean.take(raw, "currency", _currency)
        _amount(clean, raw, "amount", currency)
        clean.take(raw, "invoice_ref", _REF)

    def check_references(self, rows: list[_Clean]) -> None:
        self.customer_ids = self.customer_ids_by_ref(rows)
        refs = {r.values["invoice_ref"] for r in rows if r.values.get("invoice_ref")}
        invoices = {
            ref: (customer_ref, currency)
            for ref, customer_ref, currency in Invoice.objects.filter(ref__in=refs).values_list(
                "ref", "customer__ref", "currency"
            )
        }
        for r in rows:
            ref = r.values.get("invoice_ref")
            if not ref:
                continue
            if ref not in invoices:
                r.fail("invoice_ref", f"no invoice {ref!r}")
                continue
            customer_ref, currency = invoices[ref]
            if "customer_ref" in r.values and customer_ref != r.values["customer_ref"]:
                r.fail("invoice_ref", f"invoice {ref!r} belongs to customer {customer_ref!r}")
            elif "currency" in r.values and currency != r.values["currency"]:
                r.fail("currency", f"invoice {ref!r} is in {currency}")
        # Posted documents are immutable; checked here so that a conflict is
        # listed even when an earlier bad row stopped the writing.
        ref_field = self.ref_column
        self.existing = {
            doc.ref: doc
            for doc in self.model.objects.filter(
                ref__in=[r.values[ref_field] for r in rows if ref_field in r.values]
            )
        }
        for r in rows:
            doc = self.existing.get(r.values.get(ref_field, ""))
            if doc is None or r.errors:
                continue
            if doc.customer_id != self.customer_ids[r.values["customer_ref"]] or any(
                getattr(doc, f) != value for f, value in self._fields(r.values).items()
            ):
                r.fail(
                    ref_field,
                    f"{doc.ref!r} was already imported with other values; "
                    "record a correction as a new entry",
                )

    def _fields(self, v: dict[str, Any]) -> dict[str, Any]:
        return {
            self.date_column: v[self.date_column],
            "amount": v["amount"],
            "currency": v["currency"],
            "invoice_ref": v.get("invoice_ref") or "",
        }

    def write(self, rows: list[_Clean]) -> None:
        ref_field = self.ref_column
        documents = []
        for r in rows:
            v = r.values
            if v[ref_field] in self.existing:  # the same values: check_references refused others
                self.summary.unchanged += 1
                continue
            documents.append(
                self.model(
                    ref=v[ref_field],
                    customer_id=self.customer_ids[v["customer_ref"]],
                    **self._fields(v),
                )
            )
        allocations = documents_post(documents)
        log = []
        for doc in documents:
            self.summary.created += 1
            self.summary.add_money(doc.currency, doc.allocated, doc.amount - doc.allocated)
            log.append(
                Activity(
                    actor_label=self.actor_label,
                    customer_id=doc.customer_id,
                    subject_type=self.model._meta.model_name or "",
                    subject_ref=doc.ref,
                    verb=f"{self.model._meta.model_name}.imported",
                    why="imported from file; "
                    + ("applied to the named invoice" if doc.invoice_ref else "oldest due first"),
                    data={
                        "amount": str(doc.amount),
                        "currency": doc.currency,
                        "allocations": {a.invoice.ref: str(a.amount) for a in allocations[doc.ref]},
                        "unapplied": str(doc.amount - doc.allocated),
                    },
                )
            )
        activities_record(log)


class _PaymentImporter(_DocumentImporter):
    kind = "payments"
    ref_column = "payment_ref"
    model = Payment
    date_column = "received_on"


class _CreditNoteImporter(_DocumentImporter):
    kind = "credit-notes"
    ref_column = "credit_note_ref"
    model = CreditNote
    date_column = "issue_date"


IMPORTERS: dict[str, type[_Importer]] = {
    "customers": _CustomerImporter,
    "invoices": _InvoiceImporter,
    "payments": _PaymentImporter,
    "credit-notes": _CreditNoteImporter,
}


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a large import keeps millions of
    live objects (refs seen, per-customer tallies) that every full collection
    would walk again, for about a fifth of the import's time. Rows make no
    reference cycles; what little else does is collected afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rows_import(
    kind: str,
    rows: Iterable[Row],
    *,
    actor_label: str,
    source: str = "",
    sha256: str = "",
    on_rows: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Validate and upsert rows of one kind, all or nothing.

    Raises ImportRejected listing every bad row; then nothing is written.
    ``on_rows`` is told how many rows each finished chunk held.
    """
    summary = ImportSummary(kind)
    importer = IMPORTERS[kind](summary, actor_label)
    errors: list[RowError] = []
    with _gc_paused(), transaction.atomic():
        for chunk in _chunks(rows, CHUNK):
            cleaned = [importer.clean(location, raw) for location, raw in chunk]
            importer.check_references(cleaned)
            good = [c for c in cleaned if not c.errors]
            if good and not errors and not any(c.errors for c in cleaned):
                importer.write(good)
            errors.extend(e for c in cleaned for e in c.errors)
            summary.rows += len(chunk)
            if on_rows is not None:
                on_rows(len(chunk))
        if errors:
            raise ImportRejected(errors)  # leaving the block rolls everything back
        importer.finish()
        ImportRun.objects.create(
            kind=kind,
            source=source,
            sha256=sha256,
            actor_label=actor_label,
            rows=summary.rows,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
        )
    if summary.created + summary.updated >= ANALYZE_AFTER:
        statistics_refresh(list(apps.get_app_config("ledger").get_models()))
    return summary
