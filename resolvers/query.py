"""The entry points of the customer graph: find one customer by id, phone, email or record."""

from __future__ import annotations

import strawberry

from adapters.models import IvrContactId
from adapters.normalize import normalize_email, normalize_phone
from resolvers.audit import AuditTrailConnection, audit_trail
from resolvers.errors import BadUserInput
from resolvers.identity import CustomerId
from resolvers.interactions import Interaction, interaction
from resolvers.types import Customer, Info, Source

#: How an IVR contact's ``CustomerRefType`` names the customer it verified.
_IVR_REF_TO_SOURCE = {"ACCOUNT": Source.BILLING}


async def _load(info: Info, customer_id: CustomerId | None) -> Customer | None:
    if customer_id is None:
        return None
    record = await info.context.loaders.customers.load(customer_id)
    return Customer.from_record(record) if record is not None else None


async def _by_phone(info: Info, raw: str) -> Customer | None:
    e164 = normalize_phone(raw, info.context.default_region)
    if e164 is None:
        raise BadUserInput("phone is not a possible phone number")
    found = await info.context.store.find_by_phone(e164)
    # Several customers can share a number (households, duplicates): the oldest is the
    # deterministic answer; the rest surface as possible duplicates.
    return await _load(info, found[0] if found else None)


async def _by_email(info: Info, raw: str) -> Customer | None:
    email = normalize_email(raw)
    if email is None:
        raise BadUserInput("email is not an email address")
    found = await info.context.store.find_by_email(email)
    return await _load(info, found[0] if found else None)


async def _by_ivr_contact(info: Info, contact_id: str) -> Customer | None:
    """The customer an IVR contact (call) refers to, by the reference the IVR recorded."""
    contact = await info.context.sources.ivr.get_contact(IvrContactId(contact_id))
    ref_type, ref_value = contact.customer_ref_type, contact.customer_ref_value
    if ref_value is None:
        return None
    if ref_type == "PHONE":
        return await _by_phone(info, ref_value)
    if ref_type == "EMAIL":
        return await _by_email(info, ref_value)
    if ref_type == "CUSTOMER_ID":
        return await _load(info, CustomerId(ref_value))
    source = _IVR_REF_TO_SOURCE.get(ref_type or "")
    if source is None:
        return None
    return await _load(info, await info.context.store.find_by_source_id(source, ref_value))


@strawberry.type
class Query:
    interaction: Interaction | None = strawberry.field(
        resolver=interaction, description="The interaction of an IVR contact (call), if any."
    )

    audit_trail: AuditTrailConnection | None = strawberry.field(
        resolver=audit_trail,
        description="Who read or did what about a customer, newest first (supervisors only).",
    )

    @strawberry.field(description="A customer by the gateway's own id.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        return await _load(info, CustomerId(str(id)))

    @strawberry.field(description="A customer by phone, in any format any system uses.")
    async def customer_by_phone(self, info: Info, phone: str) -> Customer | None:
        return await _by_phone(info, phone)

    @strawberry.field(description="A customer by email, whatever its case.")
    async def customer_by_email(self, info: Info, email: str) -> Customer | None:
        return await _by_email(info, email)

    @strawberry.field(
        description=(
            "A customer by one system's record id; for IVR, the id of a contact (call), "
            "resolved through the customer reference the IVR recorded."
        )
    )
    async def customer_by_source_id(
        self, info: Info, source: Source, id: strawberry.ID
    ) -> Customer | None:
        if source is Source.IVR:
            return await _by_ivr_contact(info, str(id))
        return await _load(info, await info.context.store.find_by_source_id(source, str(id)))
