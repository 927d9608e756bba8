"""The values the sync hands the identity store, and the sync's rows it reads back.

``app.identity.sync.runner`` works out what one page of one source changes (customers, links, names,
lookup keys, review rows) and hands it over as a ``PageWrite``, which
``app.store.sync.session.SyncSession`` writes in one transaction. ``LinkedRecord`` and
``SyncRun`` are what the store hands back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.store.identity import ReviewRow
from kernel.identity import CustomerId
from kernel.models import Source

__all__ = [
    "DisplayName",
    "KeyKind",
    "KeyRow",
    "LinkedRecord",
    "LookupKey",
    "MatchedBy",
    "NewCustomer",
    "NewLink",
    "PageWrite",
    "SyncRun",
]

KeyKind = Literal["email", "phone"]
MatchedBy = Literal["anchor", "xref", "email", "phone", "manual"]
#: What made a link: the batch sync, a live lookup, a webhook, or a person's decision.
LinkedVia = Literal["sync", "live", "webhook", "manual"]
SyncOutcome = Literal["running", "succeeded", "failed"]
#: A sync that read every source in full, or read at least one from its saved cursor.
SyncMode = Literal["full", "incremental"]


@dataclass(frozen=True, slots=True)
class LookupKey:
    """A normalised email (lower-cased) or phone (E.164) that finds a customer."""

    kind: KeyKind
    value: str


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """A customer to create; ``display_rank``/``display_ref`` say where its name came from."""

    id: CustomerId
    display_name: str
    display_rank: int
    display_ref: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewLink:
    """A record of the page's source, newly linked to a customer by ``matched_by``.

    ``confidence`` is the rule's, from settings; ``linked_via`` says what made the link.
    """

    external_id: str
    customer_id: CustomerId
    matched_by: MatchedBy
    linked_at: datetime
    confidence: float = 1.0
    linked_via: LinkedVia = "sync"


@dataclass(frozen=True, slots=True)
class DisplayName:
    """A name proposed for an existing customer; it wins if its rank is lower (better).

    ``ref`` names the record it comes from (``CRM:1001``): a record that supplied the
    current name may also replace it with its own newer value.
    """

    customer_id: CustomerId
    name: str
    rank: int
    ref: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One lookup key of one record of the page's source, pointing at the record's customer."""

    external_id: str
    customer_id: CustomerId
    key: LookupKey


@dataclass(frozen=True, slots=True)
class LinkedRecord:
    """A record already linked: its customer, that customer's name now, the record's keys."""

    customer_id: CustomerId
    current_name: DisplayName
    keys: frozenset[LookupKey]


@dataclass(frozen=True, slots=True)
class PageWrite:
    """What one page of one source changes, written in one transaction.

    ``names`` holds at most one proposal per customer; ``keys_removed`` are deleted before
    ``keys_added`` are inserted.
    """

    source: Source
    customers: Sequence[NewCustomer] = ()
    links: Sequence[NewLink] = ()
    names: Sequence[DisplayName] = ()
    keys_added: Sequence[KeyRow] = ()
    keys_removed: Sequence[KeyRow] = ()
    #: What the rules found but left for a person (``app.store.identity``).
    reviews: Sequence[ReviewRow] = ()


@dataclass(frozen=True, slots=True)
class SyncRun:
    """One row of ``sync_runs``."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    counts: Mapping[str, Any]
    #: 'full', or 'incremental' when a source was read from its saved cursor.
    mode: str = "full"
