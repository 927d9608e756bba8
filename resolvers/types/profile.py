"""The profile panel: the customer's name and contact details, from the CRM.

The CRM is their system of record; ``Customer.profile`` fetches the one contact and builds
the whole panel from it.
"""

from __future__ import annotations

import strawberry

from adapters.crm.port import contact_version
from kernel import models
from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from resolvers.extensions.masking import mask_email, mask_name, mask_phone, personal
from resolvers.types.common import Address, PanelMeta


@strawberry.type(description="Name and contact details, from the CRM (their system of record).")
class Profile:
    owner: strawberry.Private[CustomerId]
    name: str | None = personal(VerificationLevel.LOW, mask_name)
    email: str | None = personal(VerificationLevel.MEDIUM, mask_email)
    phone: str | None = personal(VerificationLevel.MEDIUM, mask_phone)
    address: Address | None
    version: str = strawberry.field(
        description="The contact details' version as read: send it as updateContactDetails' "
        "expectedVersion, so that a change made since is refused, never overwritten."
    )
    meta: PanelMeta

    @classmethod
    def from_model(cls, contact: models.CrmContact, owner: CustomerId) -> Profile:
        return cls(
            owner=owner,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            address=Address.from_model(contact.address, owner),
            version=contact_version(contact),
            meta=PanelMeta(
                source=models.Source.CRM,
                source_record_id=strawberry.ID(contact.id),
                fetched_at=contact.fetched_at,
                cache_state=contact.cache_state,
            ),
        )
