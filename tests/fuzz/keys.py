"""The seeded customers' keys the generated documents look up, and what must stay hidden.

The named customers are the sandbox's (sandbox/data/named.py): every seed has them.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

#: The named customers' emails, as the systems hold them and as a client might type them.
NAMED_EMAILS = (
    "ada.lovelace@example.com",
    "grace.hopper@example.com",
    "alan.turing@example.com",
    "barbara.liskov@example.com",
)
EMAILS = (*NAMED_EMAILS, "ALAN.TURING@EXAMPLE.COM", "alan@turing.example", "nobody@example.com")
PHONES = ("+44 20 7946 0018", "+442079460018", "(415) 555-0101", "415.555.0101", "+14155550101")

#: Values of the named customers that a masked answer never holds, by customer: their
#: emails, phones (as E.164 and as written), surnames and Ada's street and postcode.
SECRETS = {
    "ada": ("ada.lovelace@example.com", "+442079460018", "7946 0018", "Lovelace", "SW1Y"),
    "grace": ("grace.hopper@example.com", "+14155550101", "555-0101", "Hopper"),
    "alan": ("alan.turing@example.com", "ALAN.TURING@EXAMPLE.COM", "Turing"),
}


@dataclass(frozen=True, slots=True)
class Keys:
    """The running stack's own ids for the named customers, read once it has synced."""

    customer_ids: tuple[str, ...]
    #: Their records' ids in the systems (CRM, billing, support ids).
    source_ids: tuple[str, ...]
    #: IVR contacts: the call the fixture claimed, and Ada's seeded one.
    contact_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FuzzStack:
    """Handles on the fuzz stack: where to post, as whom, and the keys to look up."""

    http: httpx.AsyncClient
    graphql_url: str
    #: A bearer token per role.
    tokens: dict[str, str]
    #: An agent's grant for a call in which Ada was verified (``X-Interaction-Token``).
    grant: str
    keys: Keys
