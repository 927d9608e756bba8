"""How the sync reads each source this run: in full, or from its cursor, as the vendor allows.

- CRM (HubSpot): contacts modified since the cursor time (a ``lastmodifieddate`` search).
- Billing (Stripe): customers created since the cursor time (``created[gte]``). Stripe lists
  nothing by update time; changes to existing customers arrive by webhook.
- Support (Zendesk): the incremental user export, from the vendor's cursor (or, the first
  time, from the cursor time).

A source without a cursor, or every source with ``full``, is read in full. Whichever way a
source is read, its pass ends with the cursor its next pass starts from: the vendor's own
for support once an export handed one back, else the time this run started less the
overlap (taken before anything was read, so that a change made during the run is read
again next time rather than missed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from adapters.billing.port import BillingAdapter
from adapters.crm.port import CrmAdapter
from adapters.support.port import SupportAdapter, UserChanges
from app.store.sync.cursors import SourceCursor
from kernel.models import BillingCustomer, CrmContact, Source, SupportUser

__all__ = ["SourcePass", "SyncPasses", "plan_passes"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SourcePass(Generic[_T]):
    """One source's pages for this run, and where its next run starts once they are read."""

    source: Source
    pages: AsyncIterator[list[_T]]
    incremental: bool
    #: Meaningful once every page was read and stored (a vendor's cursor moves as it reads).
    next_cursor: Callable[[], SourceCursor]


@dataclass(frozen=True, slots=True)
class SyncPasses:
    """The three passes of a run, in the order they run (CRM contacts anchor customers)."""

    crm: SourcePass[CrmContact]
    billing: SourcePass[BillingCustomer]
    support: SourcePass[SupportUser]

    @property
    def incremental(self) -> bool:
        """Whether any source is read from its cursor (``sync_runs.mode``)."""
        return self.crm.incremental or self.billing.incremental or self.support.incremental

    def describe(self) -> str:
        """How each source is read, for a log line (no cursor values)."""
        return ", ".join(
            f"{each.source.value} {'incremental' if each.incremental else 'full'}"
            for each in (self.crm, self.billing, self.support)
        )


def plan_passes(
    crm: CrmAdapter,
    billing: BillingAdapter,
    support: SupportAdapter,
    cursors: Mapping[Source, SourceCursor],
    *,
    started: datetime,
    overlap: timedelta,
) -> SyncPasses:
    """The passes for a run that started at ``started``; ``cursors`` empty reads all in full."""
    next_time = started - overlap
    crm_since = _time(cursors.get(Source.CRM))
    billing_since = _time(cursors.get(Source.BILLING))
    support_start = cursors.get(Source.SUPPORT)
    crm_pass = SourcePass(
        Source.CRM,
        crm.iter_contacts() if crm_since is None else crm.iter_contacts_modified_since(crm_since),
        crm_since is not None,
        lambda: next_time,
    )
    billing_pass = SourcePass(
        Source.BILLING,
        billing.iter_customers()
        if billing_since is None
        else billing.iter_customers_created_since(billing_since),
        billing_since is not None,
        lambda: next_time,
    )
    if support_start is None:
        support_pass = SourcePass(Source.SUPPORT, support.iter_users(), False, lambda: next_time)
    else:
        export = _ExportPosition(support_start)
        support_pass = SourcePass(
            Source.SUPPORT,
            export.users(support.iter_user_changes(support_start)),
            True,
            export.current,
        )
    return SyncPasses(crm_pass, billing_pass, support_pass)


def _time(cursor: SourceCursor | None) -> datetime | None:
    # CRM and billing keep times only; anything else there is read as "no cursor": in full.
    return cursor if isinstance(cursor, datetime) else None


class _ExportPosition:
    """Where Zendesk's user export stands: the cursor handed back with the last page read."""

    def __init__(self, start: SourceCursor) -> None:
        self._cursor = start

    def current(self) -> SourceCursor:
        return self._cursor

    async def users(self, changes: AsyncIterator[UserChanges]) -> AsyncIterator[list[SupportUser]]:
        """The export's users page by page, moving the position past each page read.

        The position moves when the next page is asked for, after the sync has taken this
        one; the sync saves it only once every page is stored.
        """
        async for change in changes:
            yield list(change.users)
            self._cursor = change.cursor
