"""Personal fields: how they are declared, masked, and who may see them as they are.

A personal field is declared with ``personal(level, mask)``: the schema shows it as
``@pii(level: MEDIUM)``, and a field extension decides, per request and per customer, how its
value goes out. The decision (``decide_access``), made once per customer and request:

- ``agent``: with a verified interaction for *this* customer (``X-Interaction-Token``), the
  fields are served as they are up to the interaction's level; a field needing more is null
  with ``VERIFICATION_REQUIRED`` and the level needed. Any other customer, or no interaction:
  masked.
- ``supervisor``: as they are only with a stated purpose (``X-Purpose``, audited); else masked.
- ``analyst``: always masked; free text (the customer's own words) masked whole.
- ``ivr`` (a machine client that hands callers over) and any role not known here: no personal
  data at all, each field null with ``FORBIDDEN``. Masked values would still tell a machine
  client a first name and a domain it has no use for.

Masking happens here, in the resolvers, after the cache and the adapters: whatever the cache
holds is the real value, and every request decides afresh what its principal may see.

Free text is personal by default (``free_text``): as it is for who may see the customer's
personal data, redacted (``resolvers.redaction``) for an agent without a verified call and a
supervisor without a purpose, masked whole for an analyst, withheld from the rest.

Levels, chosen so that what a caller is asked to prove grows with what the agent would see:
names, card last four and ticket subjects need ``LOW``; email, phone and the street address
``MEDIUM``; a card's expiry ``HIGH`` (with the last four it is half of a card-not-present
fraud).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol

import phonenumbers
import strawberry
from strawberry.extensions import FieldExtension
from strawberry.schema_directive import Location

from kernel.access import VerificationLevel
from kernel.client_errors import BadUserInput, Forbidden, VerificationRequired
from kernel.disclosure import Access, Treatment
from kernel.identity import CustomerId
from resolvers.context import RequestContext
from resolvers.redaction import redact

# The shared vocabulary's enum, registered in place (as types.py does with the adapters'):
# the @pii directive needs it whether or not the interaction types are in the schema. They
# register it too, with these very words, so the printed schema is the same either way.
strawberry.enum(VerificationLevel, description="How strongly the caller's identity was verified.")

#: What a masked value shows instead of what it hides.
HIDDEN = "***"
#: The longest purpose a supervisor may state; it is stored in every audit entry it covers.
MAX_PURPOSE_LENGTH = 200
#: Fewer digits than this and a phone's last three would be most of it: none are shown.
MIN_PHONE_DIGITS_TO_HINT = 7
#: A local part shorter than this shows no first letter: it would be half of it or more.
MIN_LOCAL_PART_TO_HINT = 3

#: A mask: the value and the request's default phone region, to what may be shown (or None).
Mask = Callable[[Any, str], Any]


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="pii",
    description=(
        "Personal data: served as it is only to a principal allowed to (an agent within a "
        "verified interaction for this customer at `level` or above, a supervisor with a "
        "stated purpose); masked or withheld otherwise. Every read is audited."
    ),
)
class Pii:
    level: VerificationLevel


# --- masks -----------------------------------------------------------------------------------


def mask_email(value: str, region: str = "") -> str:
    """``ada.lovelace@example.com`` -> ``a***@example.com``; the domain stays, the rest goes."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        return HIDDEN
    hint = local[0] if len(local) >= MIN_LOCAL_PART_TO_HINT else ""
    masked = f"{hint}{HIDDEN}@{domain}"
    # A local part of asterisks (``***@example.com``) would come out as itself.
    if value.strip().lower() in masked.lower():
        return HIDDEN
    return masked


#: Phone numbers whose mask is remembered: parsing one costs more CPU than the rest of a
#: whole customer's masking, and an agent's screen asks for the same customer again and again.
REMEMBERED_PHONE_MASKS = 4096


@functools.lru_cache(maxsize=REMEMBERED_PHONE_MASKS)
def mask_phone(value: str, region: str) -> str:
    """``+44 20 7946 0018`` -> ``+44*******018``: the country code and the last three digits.

    A number that does not parse keeps only its last three digits, and only when it has at
    least seven; the country code is shown only when it is known for sure. Remembered per
    number and region (in this process's memory only, beside the cached records it came from).
    """
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        digits = _digits(value)
        return _stars_and_tail(digits)
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code}{_stars_and_tail(national)}"


def _stars_and_tail(digits: str) -> str:
    if len(digits) < MIN_PHONE_DIGITS_TO_HINT:
        return HIDDEN
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_name(value: str, region: str = "") -> str:
    """``Ada King Lovelace`` -> ``Ada K. L.``: the first name and initials.

    The first name is what an agent greets a caller by, and says little on its own; a name
    of one word keeps its first letter only (``Cher`` -> ``C***``).
    """
    words = value.split()
    if not words:
        return ""
    if len(words) == 1:
        return f"{words[0][0]}{HIDDEN}"
    return " ".join([words[0], *(f"{word[0]}." for word in words[1:])])


def mask_card_last4(value: str, region: str = "") -> str:
    """At most the last four digits, whatever a system of record handed us."""
    return _digits(value)[-4:]


def withhold(value: object, region: str = "") -> None:
    """A value with no safe partial form (street lines, postcode, card expiry): null."""
    return None


def redact_free_text(value: str, region: str = "") -> str:
    """Free text (a ticket subject) with emails masked and phones, cards, addresses and long
    numbers withheld, however written (``resolvers.redaction``).

    A name in prose cannot be found this way, which is why free text is still a personal
    field, and masked whole for a role with no use for the customer's words.
    """
    return redact(value, region)


def _digits(value: str) -> str:
    # ASCII digits only: str.isdigit() also accepts superscripts that int() refuses.
    return "".join(ch for ch in value if "0" <= ch <= "9")


# --- who may see what --------------------------------------------------------------------------


def decide_access(context: RequestContext, customer_id: CustomerId) -> Access:
    """How ``customer_id``'s personal fields go out in this request (see the module doc)."""
    principal = context.principal
    if principal.role == "agent":
        interaction = context.interaction
        if (
            interaction is not None
            and interaction.customer_id == customer_id
            and interaction.agent == principal.subject
        ):
            return Access(Treatment.UNMASKED, interaction.level)
        return Access(Treatment.MASKED, redacts_free_text=True)
    if principal.role == "supervisor":
        if context.purpose:
            return Access(Treatment.UNMASKED, VerificationLevel.HIGH)
        return Access(Treatment.MASKED, redacts_free_text=True)
    if principal.role == "analyst":
        return Access(Treatment.MASKED)
    return Access(Treatment.DENIED)


def stated_purpose(raw: str | None) -> str | None:
    """A supervisor's purpose from ``X-Purpose``: trimmed, or None when absent or blank.

    Refused (``BadUserInput``) when longer than ``MAX_PURPOSE_LENGTH`` or not printable:
    it is stored in the audit trail and shown to whoever reads it.
    """
    if raw is None or not raw.strip():
        return None
    purpose = raw.strip()
    if len(purpose) > MAX_PURPOSE_LENGTH or not purpose.isprintable():
        raise BadUserInput(f"X-Purpose must be at most {MAX_PURPOSE_LENGTH} printable characters")
    return purpose


class Owned(Protocol):
    """A GraphQL object about one customer: whose data its fields are."""

    @property
    def owner(self) -> CustomerId: ...


class PersonalField(FieldExtension):
    """Serves one personal field as the request's access decision for its customer says.

    One instance per field; scalar fields stay plain attributes underneath, so the cost is
    one call and, once per customer and request, the decision.
    """

    def __init__(self, level: VerificationLevel, mask: Mask, *, free_text: bool = False) -> None:
        self.level = level
        self.mask = mask
        self.free_text = free_text
        self._coordinate: str | None = None

    def resolve(self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        return self._disclose(next_(source, info, **kwargs), source, info)

    async def resolve_async(
        self, next_: Any, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        return self._disclose(await next_(source, info, **kwargs), source, info)

    def _disclose(self, value: Any, source: Owned, info: strawberry.Info) -> Any:
        context: RequestContext = info.context
        ledger = context.disclosures
        owner = source.owner
        ledger.touch(owner)
        if value is None:
            return None
        coordinate = self._coordinate_of(info)
        access = ledger.access_for(owner, lambda: decide_access(context, owner))
        if access.treatment is Treatment.UNMASKED:
            if access.level >= self.level:
                ledger.served(owner, coordinate, info.path.as_list(), masked=False)
                return value
            ledger.withheld(owner, coordinate, self.level)
            raise VerificationRequired(coordinate, self.level.name)
        if access.treatment is Treatment.MASKED:
            if self.free_text and not access.redacts_free_text:
                ledger.served(owner, coordinate, info.path.as_list(), masked=True)
                return HIDDEN
            masked = self.mask(value, context.default_region)
            path = info.path.as_list() if masked is not None else None
            ledger.served(owner, coordinate, path, masked=True)
            return masked
        ledger.withheld(owner, coordinate, None)
        raise Forbidden(f"the {context.principal.role} role may not read {coordinate}")

    def _coordinate_of(self, info: strawberry.Info) -> str:
        # The schema coordinate (``Profile.email``) is what the audit trail records: stable
        # whatever aliases a client chose. Fixed per field, so worked out once.
        if self._coordinate is None:
            self._coordinate = f"{info._raw_info.parent_type.name}.{info.field_name}"
        return self._coordinate


class CustomerTouched(FieldExtension):
    """Notes that the response carries data about the object's customer (for the audit).

    On the non-personal fields of ``Customer``: a response with only a balance in it is
    still a read of that customer's data, and is on the trail like any other.
    """

    def resolve(self, next_: Any, source: Owned, info: strawberry.Info, **kwargs: Any) -> Any:
        info.context.disclosures.touch(source.owner)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Any, source: Owned, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        info.context.disclosures.touch(source.owner)
        return await next_(source, info, **kwargs)


def personal(level: VerificationLevel, mask: Mask, *, description: str | None = None) -> Any:
    """A personal field: ``@pii(level:)`` in the schema, served through ``PersonalField``."""
    return strawberry.field(
        description=description,
        directives=[Pii(level=level)],
        extensions=[PersonalField(level, mask)],
    )


def free_text(level: VerificationLevel, *, description: str | None = None) -> Any:
    """Free text a customer (or an agent about them) wrote: personal, whatever it holds.

    As it is for who may see the customer's personal data at ``level``; redacted for a role
    that sees them masked and works with the customer; masked whole (``***``) for a role
    that sees them masked and has no use for their words; withheld from the rest.
    """
    return strawberry.field(
        description=description,
        directives=[Pii(level=level)],
        extensions=[PersonalField(level, redact_free_text, free_text=True)],
    )


def customer_data(*, description: str | None = None) -> Any:
    """A non-personal field of ``Customer`` that still counts as reading the customer."""
    return strawberry.field(description=description, extensions=[CustomerTouched()])
