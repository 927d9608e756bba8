"""Deterministic dataset generation: the named customers plus N generated people.

One ``random.Random(seed)`` is consumed in a fixed order, and every timestamp is derived
from ``REFERENCE_TIME``, so one (seed, customers) pair gives identical data on every run.
Generated people are spread across the systems with the messiness of real ones (see
``sandbox/README.md``): missing records, per-system phone formats, email case differences,
partial cross-references. Who the people are is drawn in ``data_people``, how often each
kind of record occurs is in ``data_weights``, and their billing histories come from
``data_billing``; this module writes their CRM, support and IVR records.
"""

from __future__ import annotations

import gc
import random
import uuid

from sandbox.catalogue import (
    IVR_INTENTS,
    IVR_QUEUES,
    TICKET_DESCRIPTIONS,
    TICKET_SUBJECTS,
    US_CITIES,
)
from sandbox.data.billing import _BillingWriter
from sandbox.data.named import add_named_customers
from sandbox.data.people import _Person
from sandbox.data.weights import (
    AUTH_METHODS,
    AUTH_RESULTS,
    AUTH_SCORES,
    IVR_REF_TYPES,
    PARTIAL_PRESENCE,
    TICKET_COUNTS,
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    TICKET_TYPES,
)
from sandbox.records import (
    DAY,
    REFERENCE_TIME,
    CrmContact,
    Dataset,
    IvrContact,
    SupportUser,
    Ticket,
)

FIRST_CRM_ID = 2001
FIRST_SUPPORT_ID = 20001
FIRST_TICKET_ID = 100001


def generate_dataset(seed: int = 42, customers: int = 2000) -> Dataset:
    """The named customers plus ``customers`` generated people, identical for equal arguments."""
    if customers < 0:
        raise ValueError("customers must be >= 0")
    dataset = Dataset(seed=seed, customers=customers)
    # Millions of small objects and no cycles among them: the cyclic collector would only
    # rescan the growing heap over and over (100,000 customers took 3x as long with it on).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        add_named_customers(dataset)
        _Generator(dataset, random.Random(seed)).generate(customers)
    finally:
        if was_enabled:
            gc.enable()
    return dataset


class _Generator(_BillingWriter):
    def __init__(self, dataset: Dataset, rng: random.Random) -> None:
        super().__init__(dataset, rng)
        self.next_crm_id = FIRST_CRM_ID
        self.next_support_id = FIRST_SUPPORT_ID
        self.next_ticket_id = FIRST_TICKET_ID

    def generate(self, count: int) -> None:
        """Add ``count`` generated people to the dataset."""
        rng = self.rng
        # Numbers drawn without replacement so no two people share a phone (until a space
        # runs out, far beyond any benchmark size).
        uk_numbers = iter(rng.sample(range(1_000_000), min(count, 1_000_000)))
        us_numbers = iter(rng.sample(range(len(US_CITIES) * 10_000), min(count, 120_000)))
        for index in range(count):
            person = self._person(index, uk_numbers, us_numbers)
            if rng.random() < 0.70:
                systems: tuple[str, ...] = ("crm", "billing", "support")
            else:
                systems = PARTIAL_PRESENCE.draw(rng)
            billing_id = self._billing(person) if "billing" in systems else None
            crm_id = self._crm(person, billing_id) if "crm" in systems else None
            if "support" in systems:
                self._support(person, crm_id)
            if rng.random() < 0.25:
                self._ivr_contacts(person, crm_id, billing_id)

    # --- CRM ---------------------------------------------------------------------------

    def _crm(self, person: _Person, billing_id: str | None) -> str:
        rng = self.rng
        contact_id = str(self.next_crm_id)
        self.next_crm_id += 1
        created = person.created + rng.randrange(DAY)
        self.dataset.crm.contacts.add(
            CrmContact(
                id=contact_id,
                properties={
                    "firstname": person.first,
                    "lastname": person.last,
                    "email": person.email if rng.random() < 0.97 else None,
                    "phone": self._phone(person, 0) if rng.random() < 0.9 else None,
                    "address": person.line1,
                    "city": person.city,
                    "state": person.state,
                    "zip": person.postal_code,
                    "country": "United Kingdom" if person.uk else "United States",
                    "billing_customer_id": (
                        billing_id if billing_id and rng.random() < 0.85 else None
                    ),
                },
                created=created,
                updated=min(created + rng.randrange(365 * DAY), REFERENCE_TIME),
            )
        )
        return contact_id

    # --- support -----------------------------------------------------------------------

    def _support(self, person: _Person, crm_id: str | None) -> None:
        rng = self.rng
        support = self.dataset.support
        user_id = self.next_support_id
        self.next_support_id += 1
        created = person.created + rng.randrange(3 * DAY)
        support.users.add(
            SupportUser(
                id=user_id,
                name=f"{person.first} {person.last}",
                email=self._email_variant(person, 0.08),
                phone=self._phone(person, 2) if rng.random() < 0.7 else None,
                external_id=crm_id if crm_id and rng.random() < 0.6 else None,
                created=created,
                updated=created,
            )
        )
        for _ in range(TICKET_COUNTS.draw(rng)):
            opened = rng.randrange(created, REFERENCE_TIME)
            support.tickets.add(
                Ticket(
                    id=self.next_ticket_id,
                    requester_id=user_id,
                    subject=rng.choice(TICKET_SUBJECTS),
                    description=rng.choice(TICKET_DESCRIPTIONS),
                    status=TICKET_STATUSES.draw(rng),
                    priority=TICKET_PRIORITIES.draw(rng),
                    type=TICKET_TYPES.draw(rng),
                    created=opened,
                    updated=min(opened + rng.randrange(10 * DAY), REFERENCE_TIME),
                )
            )
            self.next_ticket_id += 1

    # --- IVR ---------------------------------------------------------------------------

    def _ivr_contacts(self, person: _Person, crm_id: str | None, billing_id: str | None) -> None:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 2))):
            ref_type = IVR_REF_TYPES.draw(rng)
            ref_value = {
                "PHONE": person.e164,
                "ACCOUNT": billing_id,
                "EMAIL": person.email,
                "CUSTOMER_ID": crm_id,
            }[ref_type]
            if ref_value is None:
                ref_type, ref_value = "PHONE", person.e164
            result = AUTH_RESULTS.draw(rng)
            low, high = AUTH_SCORES[result]
            intent = rng.choice(IVR_INTENTS)
            self.dataset.ivr.contacts.add(
                IvrContact(
                    id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    initiated=REFERENCE_TIME - rng.randrange(1, 90 * DAY),
                    caller_number=person.e164,
                    attributes={
                        "CallerNumber": person.e164,
                        "CustomerRefType": ref_type,
                        "CustomerRefValue": ref_value,
                        "AuthMethod": AUTH_METHODS.draw(rng),
                        "AuthResult": result,
                        "AuthScore": f"{rng.uniform(low, high):.2f}",
                        "Intent": intent,
                        "QueueName": IVR_QUEUES[intent],
                        "Language": "en-GB" if person.uk else "en-US",
                    },
                )
            )
