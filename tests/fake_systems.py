"""One fake of each system holding the same customers: the sandbox's named ones, or just
those given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from adapters.billing.port import BillingAdapter
from adapters.crm.port import CrmAdapter
from adapters.ivr.port import IvrAdapter
from adapters.support.port import SupportAdapter
from kernel.models import (
    InvoiceStatus,
    Source,
    SubscriptionStatus,
    TicketStatus,
)
from tests.builders import (
    T0,
    billing_customer,
    crm_contact,
    invoice,
    ivr_contact,
    ivr_contact_summary,
    payment_card,
    subscription,
    support_user,
    ticket,
)
from tests.fake_orders import FakeOrdersAdapter
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeIvrAdapter, FakeSupportAdapter

# --- the sandbox's named customers ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FakeSystems:
    """One fake of each system, holding the same customers."""

    billing: FakeBillingAdapter
    crm: FakeCrmAdapter
    support: FakeSupportAdapter
    ivr: FakeIvrAdapter
    #: Empty unless a test gives it orders (the linking tests count links per customer).
    orders: FakeOrdersAdapter = field(default_factory=FakeOrdersAdapter)

    @property
    def by_source(self) -> dict[Source, object]:
        """Each fake by its source, as the registry's sources are built (``sync_identities``)."""
        return {
            Source.BILLING: self.billing,
            Source.CRM: self.crm,
            Source.SUPPORT: self.support,
            Source.IVR: self.ivr,
            Source.ORDERS: self.orders,
        }


def holding(
    crm: FakeCrmAdapter | None = None,
    billing: FakeBillingAdapter | None = None,
    support: FakeSupportAdapter | None = None,
    orders: FakeOrdersAdapter | None = None,
) -> FakeSystems:
    """Fake systems holding just the records given (an empty fake for each system left out)."""
    return FakeSystems(
        billing=billing or FakeBillingAdapter(),
        crm=crm or FakeCrmAdapter(),
        support=support or FakeSupportAdapter(),
        ivr=FakeIvrAdapter(),
        orders=orders or FakeOrdersAdapter(),
    )


ADA_PHONE = "+44 20 7946 0018"


def named_customers(page_size: int = 100) -> FakeSystems:
    """Fresh fakes holding the named customers of sandbox/README.md, and nobody else.

    Ada: in all three systems with both cross-references; Grace: one email, three phone
    formats, no cross-references; Alan: billing email in capitals, support linked only by
    ``external_id``; Katherine: two CRM contacts with one email, billing cross-referenced
    from 1004, support sharing 1004's phone; Edsger: CRM only; Barbara: delinquent, with a
    past-due subscription, two overdue invoices and 150 tickets (40 unfinished).
    Linked by the default rules they make seven customers.
    """
    crm = [
        crm_contact(
            "1001",
            "Ada",
            "Lovelace",
            email="ada.lovelace@example.com",
            phone=ADA_PHONE,
            billing_id="cus_ada",
        ),
        crm_contact(
            "1002", "Grace", "Hopper", email="grace.hopper@example.com", phone="(415) 555-0101"
        ),
        crm_contact("1003", "Alan", "Turing", email="alan.turing@example.com"),
        crm_contact(
            "1004",
            "Katherine",
            "Johnson",
            email="katherine.johnson@example.com",
            phone="(757) 555-0104",
            billing_id="cus_katherine",
        ),
        crm_contact("1005", "Katherine", "Johnson", email="katherine.johnson@example.com"),
        crm_contact("1006", "Edsger", "Dijkstra", email="edsger.dijkstra@example.com"),
        crm_contact(
            "1007", "Barbara", "Liskov", email="barbara.liskov@example.com", phone="+1 617 555 0107"
        ),
    ]
    billing = [
        billing_customer(
            "cus_ada", "Ada Lovelace", email="ada.lovelace@example.com", phone=ADA_PHONE
        ),
        billing_customer(
            "cus_grace", "Grace Hopper", email="grace.hopper@example.com", phone="+14155550101"
        ),
        billing_customer("cus_alan", "Alan Turing", email="ALAN.TURING@EXAMPLE.COM"),
        billing_customer(
            "cus_katherine", "Katherine Johnson", email="katherine.johnson@example.com"
        ),
        billing_customer(
            "cus_barbara",
            "Barbara Liskov",
            email="barbara.liskov@example.com",
            balance="240.00",
            delinquent=True,
        ),
    ]
    support = [
        support_user(
            "9001",
            "Ada Lovelace",
            email="ada.lovelace@example.com",
            phone=ADA_PHONE,
            external_id="1001",
        ),
        support_user(
            "9002", "Grace Hopper", email="grace.hopper@example.com", phone="415.555.0101"
        ),
        support_user("9003", "Alan Turing", email="alan@turing.example", external_id="1003"),
        support_user(
            "9004", "Katherine Johnson", email="katherine.johnson@example.com", phone="+17575550104"
        ),
        support_user("9007", "Barbara Liskov", email="barbara.liskov@example.com"),
    ]
    month = timedelta(days=30)
    ada_invoices = [
        invoice(f"in_ada_{n:02d}", number=f"ADA-{n:04d}", created_at=T0 + n * month)
        for n in range(1, 13)
    ]
    barbara_invoices = [
        invoice(
            f"in_barbara_{n}",
            status=InvoiceStatus.OPEN,
            number=f"BL-{n:04d}",
            amount_due="120.00",
            created_at=T0 + n * month,
            due_date=T0 + n * month + timedelta(days=14),
        )
        for n in (1, 2)
    ]
    unfinished = (TicketStatus.OPEN, TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.ON_HOLD)
    barbara_tickets = [
        ticket(
            f"7{n:04d}",
            f"Billing question {n}",
            status=unfinished[n % 3] if n < 40 else TicketStatus.SOLVED,
            created_at=T0 + timedelta(hours=n),
        )
        for n in range(150)
    ]
    return FakeSystems(
        billing=FakeBillingAdapter(
            billing,
            subscriptions={
                "cus_ada": [subscription("sub_ada")],
                "cus_barbara": [subscription("sub_barbara", status=SubscriptionStatus.PAST_DUE)],
            },
            invoices={"cus_ada": ada_invoices, "cus_barbara": barbara_invoices},
            cards={"cus_ada": [payment_card("pm_ada")]},
            page_size=page_size,
        ),
        crm=FakeCrmAdapter(crm, page_size=page_size),
        support=FakeSupportAdapter(
            support,
            tickets={
                "9001": [
                    ticket("70001", "Cannot log in", status=TicketStatus.OPEN),
                    ticket("70002", "Refund", status=TicketStatus.WAITING_ON_CUSTOMER),
                    ticket("70003", "Invoice copy", status=TicketStatus.SOLVED),
                ],
                "9007": barbara_tickets,
            },
            page_size=page_size,
        ),
        ivr=FakeIvrAdapter(
            [
                ivr_contact(
                    "contact-ada-0001",
                    caller_number="+442079460018",
                    ref_type="PHONE",
                    ref_value="+442079460018",
                    auth_method="PIN",
                    auth_result="AUTHENTICATED",
                    auth_score=0.97,
                )
            ],
            summaries=[ivr_contact_summary("contact-ada-0001", caller_number="+442079460018")],
        ),
    )


if TYPE_CHECKING:
    # mypy proves here that each fake implements its Protocol in full.
    _billing: BillingAdapter = FakeBillingAdapter()
    _crm: CrmAdapter = FakeCrmAdapter()
    _support: SupportAdapter = FakeSupportAdapter()
    _ivr: IvrAdapter = FakeIvrAdapter()
