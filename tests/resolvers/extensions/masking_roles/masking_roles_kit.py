"""What the tests of masking by role share: Ada and the principals, a query of her personal
fields, an interaction verified for her, and a query run as a principal."""

from __future__ import annotations

from typing import Any

import strawberry

from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.identity import CustomerId
from resolvers.context import Sources, new_context
from tests.fake_systems import FakeSystems
from tests.resolvers.memory_audit import MemoryAuditReader, MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore

ADA = CustomerId("ada")
ADA_EMAIL = "ada.lovelace@example.com"
ADA_PHONE = "+44 20 7946 0018"

AGENT = Principal(subject="agent-1", role="agent")
ANALYST = Principal(subject="analyst-1", role="analyst")
SUPERVISOR = Principal(subject="supervisor-1", role="supervisor")
IVR = Principal(subject="ivr-platform", role="ivr")

PERSONAL = """query($id: ID!) { customer(id: $id) {
  id displayName
  profile { name email phone address { line1 line2 city region postalCode country } }
  billing { balance { amount } paymentCards { brand last4 expMonth expYear } }
  support { openTicketCount tickets(first: 5) { id subject } }
} }"""


def interaction(
    customer: str = "ada", level: VerificationLevel = VerificationLevel.HIGH
) -> ActiveInteraction:
    return ActiveInteraction(
        interaction_id="int-7",
        contact_id="contact-ada-0001",
        customer_id=CustomerId(customer),
        agent=AGENT.subject,
        level=level,
    )


async def run(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    principal: Principal,
    *,
    query: str = PERSONAL,
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
    audit: MemoryAuditSink | None = None,
    reader: MemoryAuditReader | None = None,
    **variables: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(
        principal,
        store,
        sources,
        "US",
        interaction=interaction,
        purpose=purpose,
        audit=audit if audit is not None else MemoryAuditSink(),
        audit_trail=reader,
        request_id="req-1",
        client_address="10.0.0.7",
    )
    result = await schema.execute(
        query, variable_values=variables or {"id": "ada"}, context_value=context
    )
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]
