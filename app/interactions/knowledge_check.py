"""Knowledge-based verification done by an agent: the caller's answers against the records.

The expected answers never leave the gateway: the agent sends what the caller said, and
learns only whether it matched. Facts come from the systems of record: the postcode of the
CRM contact's address and the contact's date of birth, when it has one (the CRM is the
system of record for contact details). Every fact
the records hold must be answered and match; a fact the records lack cannot be checked and
is ignored, and with no checkable fact at all verification is unavailable (no attempt is
spent on it).
"""

from __future__ import annotations

import hmac
import re

from adapters.crm.port import CrmAdapter
from kernel.identity import CustomerId, IdentityStore
from kernel.interactions import InteractionRefused, KnowledgeAnswers
from kernel.models import CrmContactId, Source

_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")


def _postcode_key(raw: str) -> str:
    """``sw1y 4jh`` and ``SW1Y4JH`` are the same postcode; so are ``94105`` and ``94105 ``."""
    return _NOT_ALPHANUMERIC.sub("", raw.upper())


def _same(given: str, expected: str) -> bool:
    # Constant time, so response timing does not reveal how much of an answer was right.
    return hmac.compare_digest(given.encode(), expected.encode())


async def answers_match(
    store: IdentityStore, crm: CrmAdapter, customer_id: CustomerId, answers: KnowledgeAnswers
) -> bool:
    """Whether ``answers`` match the customer's records; ``InteractionRefused`` if uncheckable."""
    records = await store.get_customers([customer_id])
    record = records.get(customer_id)
    link = record.link_for(Source.CRM) if record is not None else None
    contact = None
    if link is not None:
        found = await crm.get_contacts([CrmContactId(link.external_id)])
        contact = found.get(CrmContactId(link.external_id))
    address = contact.address if contact is not None else None
    postcode = address.postal_code if address is not None else None
    # (what the records hold, what the caller said) for every fact the records hold.
    facts: dict[str, tuple[str, str | None]] = {}
    if postcode and _postcode_key(postcode):
        given = _postcode_key(answers.postcode) if answers.postcode is not None else None
        facts["postcode"] = (_postcode_key(postcode), given)
    if contact is not None and contact.date_of_birth is not None:
        born = answers.date_of_birth.isoformat() if answers.date_of_birth is not None else None
        facts["dateOfBirth"] = (contact.date_of_birth.isoformat(), born)
    if not facts:
        raise InteractionRefused(
            "VERIFICATION_UNAVAILABLE",
            "the records hold no fact to check the caller's answers against",
            status=409,
        )
    missing = [name for name, (_, given) in facts.items() if given is None]
    if missing:
        # Refused before an attempt is spent: asking again with every answer is not a guess.
        raise InteractionRefused(
            "ANSWERS_INCOMPLETE", f"answers must include {', '.join(missing)}", status=400
        )
    # Every fact compared, whatever the first gave, so timing does not say which was wrong.
    results = [_same(given or "", expected) for expected, given in facts.values()]
    return all(results)
