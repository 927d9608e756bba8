"""What every panel of the customer graph shares: the enums, money, addresses, panel meta.

The adapters' canonical enums are registered with strawberry here, once, before any type
that uses them is read; ``Info`` and the ``first`` check are the panels' common arguments.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal

import strawberry

from kernel import models
from kernel.access import VerificationLevel
from kernel.client_errors import BadUserInput
from kernel.identity import CustomerId
from kernel.rollout import RolloutMode
from resolvers.context import RequestContext
from resolvers.extensions.masking import personal, withhold

# The canonical enums are the adapters' own: registering them with strawberry (which marks
# the class in place) keeps one definition of each vocabulary.
strawberry.enum(models.Source, description="A system of record behind the gateway.")
strawberry.enum(models.TicketStatus, description="Canonical ticket status.")
strawberry.enum(models.SubscriptionStatus, description="Canonical subscription status.")
strawberry.enum(models.InvoiceStatus, description="Canonical invoice status.")
strawberry.enum(models.CacheState, description="How the gateway's cache answered for a panel.")
Source = models.Source
TicketStatus = models.TicketStatus
SubscriptionStatus = models.SubscriptionStatus
InvoiceStatus = models.InvoiceStatus
CacheState = models.CacheState
strawberry.enum(
    RolloutMode,
    description="How far a source is rolled out: OFF, SHADOW (read and compared, never "
    "served), PILOT (served to its pilot cohort only) or ON.",
)

Info = strawberry.Info[RequestContext, None]

MAX_LIST = 100


@strawberry.type(description="An exact amount in major units with its ISO 4217 currency.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def from_model(cls, money: models.Money) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.type(description="A postal address; masked, only city, region and country remain.")
class Address:
    owner: strawberry.Private[CustomerId]
    line1: str | None = personal(VerificationLevel.MEDIUM, withhold)
    line2: str | None = personal(VerificationLevel.MEDIUM, withhold)
    city: str | None
    region: str | None
    postal_code: str | None = personal(VerificationLevel.MEDIUM, withhold)
    country: str | None

    @classmethod
    def from_model(cls, address: models.Address | None, owner: CustomerId) -> Address | None:
        if address is None:
            return None
        return cls(
            owner=owner,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        )


#: Where in a response each panel meta's time-bound fields went: (path, field), where the
#: field is ``cache``, ``stale`` or ``ageSeconds``. Set (to a list) only while a response
#: that may be kept is built, so that whoever serves it again can make those fields true at
#: that moment (``app.whole_response``); None the rest of the time: nothing is noted.
served_meta: ContextVar[list[tuple[tuple[str | int, ...], str]] | None] = ContextVar(
    "served_meta", default=None
)


def _noted(info: strawberry.Info, name: str) -> None:
    noted = served_meta.get()
    if noted is not None:
        noted.append((tuple(info.path.as_list()), name))


@strawberry.type(description="Where a panel's values came from, and when they were read.")
class PanelMeta:
    source: Source
    source_record_id: strawberry.ID
    fetched_at: datetime
    cache_state: strawberry.Private[CacheState]

    @strawberry.field(
        description="HIT: cached and fresh; MISS: fetched for this answer; STALE: cached, "
        "past its fresh lifetime (being refreshed, or its system is failing)."
    )
    def cache(self, info: strawberry.Info) -> CacheState:
        _noted(info, "cache")
        return self.cache_state

    @strawberry.field(description="Seconds from fetchedAt to when this answer was built.")
    def age_seconds(self, info: strawberry.Info) -> float:
        _noted(info, "ageSeconds")
        return max(0.0, (datetime.now(UTC) - self.fetched_at).total_seconds())

    @strawberry.field(description="Whether the values may be out of date (cache STALE).")
    def stale(self, info: strawberry.Info) -> bool:
        _noted(info, "stale")
        return self.cache_state is CacheState.STALE

    @strawberry.field(
        description="The rollout mode of its source that served this panel: ON, or PILOT "
        "(served to the pilot cohort only)."
    )
    async def rollout(self, info: Info) -> RolloutMode:
        return (await info.context.rollout.of(self.source)).mode


def check_first(first: int | None, *, default: int) -> int:
    """``first`` must be 1..100 (null means the default): a clear error, not a silent clamp."""
    if first is None:
        return default
    if not 1 <= first <= MAX_LIST:
        raise BadUserInput(f"first must be between 1 and {MAX_LIST}, got {first}")
    return first
