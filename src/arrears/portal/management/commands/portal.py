"""arrears portal link CUSTOMER_REF | arrears portal revoke CUSTOMER_REF"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arrears.ledger.models import Customer
from arrears.portal.links import link_lifetime, portal_link
from arrears.portal.services import portal_links_revoke


class Command(BaseCommand):
    help = (
        "link: print a customer's portal link (valid for ARREARS_PORTAL_LINK_DAYS). "
        "revoke: invalidate every link and portal session of the customer issued so far."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["link", "revoke"])
        parser.add_argument("customer_ref")

    def handle(self, *args: Any, action: str, customer_ref: str, **options: Any) -> None:
        customer = Customer.objects.filter(ref=customer_ref).first()
        if customer is None:
            raise CommandError(f"customer_ref: no customer {customer_ref!r}", returncode=2)
        if action == "link":
            self.stdout.write(portal_link(customer))
            self.stderr.write(f"valid for {link_lifetime().days} days")
            return
        generation = portal_links_revoke(customer=customer, actor_label="cli portal revoke")
        self.stdout.write(f"{customer.ref}: portal links revoked (generation {generation})")
