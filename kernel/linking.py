"""Linking records to customers: what a record is to the linking, how a source is read for it,
and live linking's and people's decisions' ports.

Every linkable source turns its records into ``LinkRecord``s (``adapters/<source>/linking.py``):
an id, what names and reaches the person, and the record of another source it names (a CRM
contact naming its billing customer, a support user naming its CRM contact). The sync and live
linking (``app.identity``) link them by the same rules, whatever the source.

The app implements the ports (``app/identity/live_linking.py``, ``app/identity/decisions.py``);
resolvers import neither ``app`` nor the database, so this module is all they know of them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
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


# --- records, as linking reads them ---------------------------------------------------

#: Where a source's next incremental read starts: a time to read changes from (aware), or a
#: vendor's opaque cursor.
SourceCursor = datetime | str

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One record of a source, as linking sees it."""

    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    #: The id of the record of another source this one names (that source is the registry
    #: entry's ``names``), if any.
    xref: str | None = None


@dataclass(frozen=True, slots=True)
class LinkPass:
    """One source's records for one sync run, a page at a time, and where its next run
    starts once they are read."""

    pages: AsyncIterator[list[LinkRecord]]
    #: Read from a saved cursor (what changed), not in full.
    incremental: bool
    #: Meaningful once every page was read and stored (a vendor's cursor moves as it reads).
    next_cursor: Callable[[], SourceCursor]


async def records_of(
    pages: AsyncIterator[list[T]], to_record: Callable[[T], LinkRecord]
) -> AsyncIterator[list[LinkRecord]]:
    """``pages`` of a source's own models, as pages of ``LinkRecord``s.

    Closing this closes ``pages`` too, at once: a vendor listing stops when its reader does.
    """
    try:
        async for page in pages:
            yield [to_record(item) for item in page]
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()
