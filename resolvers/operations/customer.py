"""The entry points of the customer graph: find one customer by id, phone, email or record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from adapters.ivr.port import PORT as IVR
from kernel.client_errors import BadUserInput
from kernel.errors import UpstreamNotFound
from kernel.identity import CustomerId, CustomerRecord
from kernel.linking import LiveAnswer, LiveLinker, LiveLookupIncomplete
from kernel.models import IvrContactId
from kernel.normalize import normalize_email, normalize_phone
from kernel.tenancy import CrossingKind
from resolvers.context import Sources
from resolvers.extensions.audit import AuditTrailConnection, audit_trail
from resolvers.operations.customers import CustomerConnection, customers
from resolvers.operations.data_quality import DataQualityReportType, data_quality
from resolvers.operations.exports import ExportJob, export_status
from resolvers.operations.interactions import Interaction, interaction, waiting_calls
from resolvers.operations.writes import write_status
from resolvers.tenant_boundary import audit_crossing
from resolvers.types.common import Info, Source
from resolvers.types.customer import Customer
from resolvers.types.writes import WriteResult

#: How an IVR contact's ``CustomerRefType`` names the customer it verified.
_IVR_REF_TO_SOURCE = {"ACCOUNT": Source.BILLING}


async def _load(info: Info, customer_id: CustomerId | None) -> Customer | None:
    if customer_id is None:
        return None
    record = await info.context.loaders.customers.load(customer_id)
    return Customer.from_record(record) if record is not None else None


async def _missing(
    info: Info, kind: CrossingKind, value: str, source: Source | None = None
) -> None:
    """Nothing found: if the key is another tenant's customer's, the attempt is audited
    there (the answer stays null, exactly as for a key nobody has)."""
    await audit_crossing(info.context, kind, value, source.value if source else None)


def _found(info: Info, record: CustomerRecord) -> Customer:
    # Primed: any other field of this request that loads the customer reuses the record.
    info.context.loaders.customers.prime(record.id, record)
    return Customer.from_record(record)


async def _by_phone(info: Info, raw: str) -> Customer | None:
    e164 = normalize_phone(raw, info.context.default_region)
    if e164 is None:
        raise BadUserInput("phone is not a possible phone number")
    # Several customers can share a number (households, duplicates): the oldest is the
    # deterministic answer; the rest surface as possible duplicates.
    record = await info.context.store.first_by_phone(e164)
    if record is not None:
        return _found(info, record)
    found = await _live(info, lambda linker: linker.by_phone(e164, info.context.sources))
    if not found:
        await _missing(info, "phone", e164)
    return await _load(info, found[0] if found else None)


async def _by_email(info: Info, raw: str) -> Customer | None:
    email = normalize_email(raw)
    if email is None:
        raise BadUserInput("email is not an email address")
    record = await info.context.store.first_by_email(email)
    if record is not None:
        return _found(info, record)
    found = await _live(info, lambda linker: linker.by_email(email, info.context.sources))
    if not found:
        await _missing(info, "email", email)
    return await _load(info, found[0] if found else None)


async def _by_source_id(info: Info, source: Source, external_id: str) -> Customer | None:
    found = await info.context.store.find_by_source_id(source, external_id)
    if found is None:
        live = await _live(
            info, lambda linker: linker.by_source_id(source, external_id, info.context.sources)
        )
        found = live[0] if live else None
    if found is None:
        await _missing(info, "record", external_id, source)
    return await _load(info, found)


async def _live(
    info: Info, ask: Callable[[LiveLinker[Sources]], Awaitable[LiveAnswer]]
) -> list[CustomerId]:
    """What the systems hold when the store found nothing, linked first (live linking).

    Nothing found with a system failing is not "no such customer": the field is null with
    an error naming the system, so the desktop can say "try again" rather than "unknown".
    """
    linker = info.context.live_linker
    if linker is None:
        return []
    answer = await ask(linker)
    if not answer.customer_ids and answer.failed_sources:
        raise LiveLookupIncomplete(answer.failed_sources)
    return list(answer.customer_ids)


async def _by_ivr_contact(info: Info, contact_id: str) -> Customer | None:
    """The customer an IVR contact (call) refers to, by the reference the IVR recorded.

    An unknown contact is a lookup that found nothing (null), like an unknown phone: the
    IVR answered, so it is no outage of it.
    """
    try:
        contact = await info.context.sources.port(IVR).get_contact(IvrContactId(contact_id))
    except UpstreamNotFound:
        return None
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
    return await _by_source_id(info, source, ref_value)


@strawberry.type
class Query:
    interaction: Interaction | None = strawberry.field(
        resolver=interaction, description="The interaction of an IVR contact (call), if any."
    )

    waiting_calls: list[Interaction] = strawberry.field(
        resolver=waiting_calls,
        description="Calls you could take now, oldest first (agents and supervisors): handed "
        "over by the IVR and claimed by nobody, or transferred to you and not claimed since; "
        "`first` is 1..100.",
    )

    customers: CustomerConnection = strawberry.field(
        resolver=customers,
        description="Customers by facts from the read model, a page at a time (analysts and "
        "supervisors); `first` is 1..100.",
    )

    audit_trail: AuditTrailConnection | None = strawberry.field(
        resolver=audit_trail,
        description="Who read or did what about a customer, newest first (supervisors only).",
    )

    export_status: ExportJob | None = strawberry.field(
        resolver=export_status,
        description="An export job (analysts and supervisors): null unless you started it or "
        "are a supervisor.",
    )

    write_status: WriteResult | None = strawberry.field(
        resolver=write_status,
        description="A write to a system of record, as it stands now: null unless you made "
        "it or are a supervisor.",
    )

    data_quality: DataQualityReportType = strawberry.field(
        resolver=data_quality,
        description="How well the systems' records link: counts only (supervisors and analysts).",
    )

    @strawberry.field(description="A customer by the gateway's own id.")
    async def customer(self, info: Info, id: strawberry.ID) -> Customer | None:
        found = await _load(info, CustomerId(str(id)))
        if found is None:
            await _missing(info, "id", str(id))
        return found

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
        return await _by_source_id(info, source, str(id))
