"""Writes in the graph: one mutation per write to a system of record, and ``writeStatus``.

The rules (who may, the input, idempotency, the outbox) are the app's write service
(``kernel.writes.WriteService``); these resolvers turn arguments into a ``WriteRequest``
and its outcome into a ``WriteResult``. Its refusals are ``GatewayError``s with their codes
(FORBIDDEN, VERIFICATION_REQUIRED, BAD_USER_INPUT, IDEMPOTENCY_KEY_REUSED, CONFLICT).
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from kernel.client_errors import GatewayError
from kernel.identity import CustomerId
from kernel.writes import WriteActor, WriteKind, WriteRequest, WriteService, WriteValues
from resolvers.tenant_boundary import audit_crossing
from resolvers.types.common import Info
from resolvers.types.writes import ContactDetailsInput, TicketInput, WriteResult

#: The idempotency key: required, one per intended write.
IdempotencyKey = Annotated[
    str,
    strawberry.argument(
        description="Chosen by the client, one per intended write: sending it again (a "
        "retry) gets the first outcome and never writes twice."
    ),
]


def _service(info: Info) -> tuple[WriteService, WriteActor]:
    context = info.context
    if context.writes is None:
        raise GatewayError("writes are not available")
    actor = WriteActor(
        principal=context.principal,
        interaction=context.interaction,
        request_id=context.request_id,
        client_address=context.client_address,
    )
    return context.writes, actor


async def _submit(info: Info, request: WriteRequest) -> WriteResult:
    service, actor = _service(info)
    try:
        outcome = await service.submit(actor, request)
    except GatewayError:
        # A write refused, perhaps for naming another tenant's customer ("no such
        # customer"): if so, the attempt goes on that customer's trail.
        if request.customer_id is not None:
            await audit_crossing(info.context, "id", request.customer_id, step="WRITE")
        raise
    return WriteResult.from_outcome(outcome)


async def write_status(info: Info, id: strawberry.ID) -> WriteResult | None:
    """``Query.writeStatus``: null for an unknown write and for someone else's."""
    service, actor = _service(info)
    outcome = await service.status(actor, str(id))
    if outcome is None:
        # Another tenant's write is answered as missing; the attempt goes on its trail.
        await audit_crossing(info.context, "write", str(id))
        return None
    return WriteResult.from_outcome(outcome)


@strawberry.type
class WriteMutation:
    @strawberry.mutation(
        description="A note on the customer's CRM contact (the CRM's notes, associated with "
        "the contact), within the customer's claimed call."
    )
    async def add_customer_note(
        self,
        info: Info,
        customer_id: strawberry.ID,
        body: str,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        return await _submit(
            info,
            WriteRequest(
                kind=WriteKind.CUSTOMER_NOTE,
                idempotency_key=idempotency_key,
                customer_id=CustomerId(str(customer_id)),
                values={"body": body},
            ),
        )

    @strawberry.mutation(
        description="Email, phone and address in the CRM, their system of record, if the "
        "contact is still at expectedVersion (Profile.version as read); else CONFLICT with "
        "the current values, and nothing is written."
    )
    async def update_contact_details(
        self,
        info: Info,
        customer_id: strawberry.ID,
        input: ContactDetailsInput,
        expected_version: str,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        values: WriteValues = {
            "email": input.email,
            "phone": input.phone,
            "line1": input.line1,
            "city": input.city,
            "region": input.region,
            "postal_code": input.postal_code,
            "country": input.country,
        }
        return await _submit(
            info,
            WriteRequest(
                kind=WriteKind.CONTACT_DETAILS,
                idempotency_key=idempotency_key,
                customer_id=CustomerId(str(customer_id)),
                values={name: value for name, value in values.items() if value is not None},
                expected_version=expected_version,
            ),
        )

    @strawberry.mutation(description="A support ticket requested by the customer.")
    async def create_ticket(
        self,
        info: Info,
        customer_id: strawberry.ID,
        input: TicketInput,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        return await _submit(
            info,
            WriteRequest(
                kind=WriteKind.TICKET,
                idempotency_key=idempotency_key,
                customer_id=CustomerId(str(customer_id)),
                values={
                    "subject": input.subject,
                    "body": input.body,
                    "priority": input.priority.value if input.priority else None,
                },
            ),
        )

    @strawberry.mutation(
        description="A comment on one of the customer's tickets; public: false makes it an "
        "internal note the customer never sees."
    )
    async def comment_on_ticket(
        self,
        info: Info,
        ticket_id: strawberry.ID,
        body: str,
        public: bool,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        return await _submit(
            info,
            WriteRequest(
                kind=WriteKind.TICKET_COMMENT,
                idempotency_key=idempotency_key,
                record_id=str(ticket_id),
                values={"body": body, "public": public},
            ),
        )

    @strawberry.mutation(
        description="Cancel one of the customer's subscriptions at the end of its period "
        "(billing, with the vendor's idempotency key)."
    )
    async def cancel_subscription_at_period_end(
        self,
        info: Info,
        subscription_id: strawberry.ID,
        idempotency_key: IdempotencyKey,
    ) -> WriteResult:
        return await _submit(
            info,
            WriteRequest(
                kind=WriteKind.SUBSCRIPTION_CANCEL,
                idempotency_key=idempotency_key,
                record_id=str(subscription_id),
            ),
        )
