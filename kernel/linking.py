"""Live linking and people's link decisions, as the resolvers see them: Protocols and values.

The app implements both (``app/identity/live_linking.py``, ``app/identity/decisions.py``); resolvers
import neither ``app`` nor the database, so this module is all they know of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from kernel.access import AuditSink, Principal
from kernel.client_errors import GatewayError
from kernel.identity import CustomerId
from kernel.models import Source

#: The bundle of source adapters a search goes through (``resolvers.context.Sources``): a
#: type parameter, so that the kernel names no adapter.
SourcesT_contra = TypeVar("SourcesT_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class LiveAnswer:
    """What a live lookup found, oldest customer first, and the systems that failed it.

    No customer and no failed system is a real miss; no customer with a failed system is
    an unknown (the failed system might have had the record).
    """

    customer_ids: tuple[CustomerId, ...] = ()
    failed_sources: tuple[Source, ...] = ()


class LiveLinker(Protocol[SourcesT_contra]):
    """Finds in the systems what the store does not know yet, links it, and answers.

    Called only after the store found nothing. ``sources`` are the request's adapters (the
    app's resilient, cached ones), so live searches obey the same deadlines and breakers.
    """

    async def by_phone(self, e164: str, sources: SourcesT_contra) -> LiveAnswer:
        """Customers with this E.164 phone, after linking what the systems hold."""
        ...

    async def by_email(self, email: str, sources: SourcesT_contra) -> LiveAnswer:
        """Customers with this normalised email, after linking what the systems hold."""
        ...

    async def by_source_id(
        self, source: Source, external_id: str, sources: SourcesT_contra
    ) -> LiveAnswer:
        """The customer of this record of ``source``, after linking it if it exists."""
        ...


class LiveLookupIncomplete(GatewayError):
    """Nothing was found, but a system failed while being searched: not a real miss."""

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, failed: Sequence[Source]) -> None:
        names = ", ".join(source.value.lower() for source in failed)
        super().__init__(f"not found, but {names} could not be searched; try again shortly")
        self.failed = tuple(failed)

    def extensions(self) -> dict[str, object]:
        return {
            "code": self.code,
            "source": self.failed[0].value,
            "sources": [source.value for source in self.failed],
            "retryable": True,
        }


# --- people's decisions --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decider:
    """Who decides, and where the decision's audit entries go."""

    principal: Principal
    request_id: str | None = None
    client_address: str | None = None
    audit: AuditSink | None = None


class IdentityDecisions(Protocol):
    """Supervisors' link and unlink decisions; each refusal raises a ``GatewayError``."""

    async def unlink(
        self,
        decider: Decider,
        customer_id: CustomerId,
        source: Source,
        external_id: str,
        reason: str,
    ) -> CustomerId:
        """Take the record from the customer (it gets a customer of its own); return the
        customer it was taken from."""
        ...

    async def link(
        self,
        decider: Decider,
        customer_id: CustomerId,
        source: Source,
        external_id: str,
        reason: str,
    ) -> CustomerId:
        """Move the record to the customer (or confirm it there); return that customer."""
        ...
