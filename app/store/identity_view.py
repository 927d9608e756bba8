"""The identity store's evidence, read for the graph, the data-quality report and /metrics.

``IdentityViewStore`` implements ``kernel.identity_evidence.IdentityEvidenceStore``
(contact keys and duplicate leads, for many customers in one query each) and the counts
the data-quality report and the ``scv_identity_*`` metrics need. It only reads: links,
keys, reviews and decisions are written by the sync, live linking and supervisors.

A pair of customers a supervisor decided are different people is never a lead: the latest
decision about some record and one of the two customers is ``unlink``, and that record is
now linked to the other one (the record was "not this person", and it is that person).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.store.customers import Store
from kernel.identity import CustomerId
from kernel.identity_evidence import (
    MAX_CANDIDATES,
    ContactKey,
    DuplicateLead,
    ReviewLead,
    SharedKeyLead,
)
from kernel.models import Source

# Through identity_links (indexed by customer) to each record's keys (its primary key's
# prefix), rather than lookup_keys by customer, which has no index of its own.
_SELECT_CONTACT_KEYS = """
select l.customer_id, k.kind, k.value, l.source, l.external_id
  from identity_links as l
  join lookup_keys as k
    on k.tenant = l.tenant and k.source = l.source and k.external_id = l.external_id
 where l.customer_id = any($1::text[]) and l.tenant = $2
 order by l.customer_id, l.linked_at, l.source, l.external_id, k.kind, k.value
"""

# Every statement below that finds leads leaves out pairs decided apart: the view
# ``decided_apart`` (migration 008) holds them as (a, b) in one direction, so each checks both.

_SELECT_SHARED_KEY_LEADS = """
with mine as (
    select l.customer_id, k.kind, k.value
      from identity_links as l
      join lookup_keys as k
        on k.tenant = l.tenant and k.source = l.source and k.external_id = l.external_id
     where l.customer_id = any($1::text[]) and l.tenant = $3
), leads as (
    select distinct m.customer_id, o.customer_id as other, m.kind, o.source, o.external_id,
           c.created_at
      from mine as m
      join lookup_keys as o on o.tenant = $3 and o.kind = m.kind and o.value = m.value
      join customers as c on c.id = o.customer_id
     where o.customer_id <> m.customer_id
       and not exists (select 1 from decided_apart as d
                        where (d.a, d.b) in ((m.customer_id, o.customer_id),
                                             (o.customer_id, m.customer_id)))
)
select customer_id, other, kind, source, external_id, created_at
  from (select leads.*,
               dense_rank() over (partition by customer_id order by created_at, other) as nth
          from leads) as ranked
 where nth <= $2
 order by customer_id, created_at, other, source, external_id, kind
"""

# The customers a review row names, and the one its record is linked to now (an ambiguous
# record may have been linked by a later rule, or anchored a customer of its own): each is
# a lead of every other.
_SELECT_REVIEW_LEADS = """
with leads as (
    select me.id as customer_id, named.id as other, r.kind, r.source, r.external_id, r.rules,
           c.created_at, r.id as review_id
      from unnest($1::text[]) as me (id)
      -- Rows naming the customer (the GIN index), and rows about its own records.
      join lateral (
            select id from identity_review
             where customer_ids @> array[me.id] and resolved_at is null and tenant = $3
            union
            select review.id
              from identity_links as mine
              join identity_review as review
                on review.tenant = mine.tenant and review.source = mine.source
               and review.external_id = mine.external_id
             where mine.customer_id = me.id and mine.tenant = $3
               and review.resolved_at is null) as about on true
      join identity_review as r on r.id = about.id
      cross join lateral (
            select unnest(r.customer_ids) as id
            union
            select customer_id from identity_links
             where tenant = r.tenant and source = r.source
               and external_id = r.external_id) as named
      join customers as c on c.id = named.id
     where named.id <> me.id
       and not exists (select 1 from decided_apart as d
                        where (d.a, d.b) in ((me.id, named.id), (named.id, me.id)))
)
select customer_id, other, kind, source, external_id, rules, created_at
  from (select leads.*,
               dense_rank() over (partition by customer_id order by created_at, other) as nth
          from leads) as ranked
 where nth <= $2
 order by customer_id, created_at, other, review_id
"""

# ``min <> max`` rather than ``count(distinct value) > 1``: the same answer without sorting
# each group (0.8 s instead of 1.4 s over 470,000 keys).
_COUNT_CONFLICTS = """
select kind, count(*) as customers
  from (select customer_id, kind
          from lookup_keys
         where tenant = $1
         group by customer_id, kind
        having min(value) <> max(value)) as disagreeing
 group by kind
"""

_COUNT_DUPLICATE_PAIRS = """
with pairs as (
    select a.customer_id as one, b.customer_id as other
      from lookup_keys as a
      join lookup_keys as b
        on b.tenant = a.tenant and b.kind = a.kind and b.value = a.value
       and b.customer_id > a.customer_id
     where a.tenant = $1
    union
    select x.id, y.id
      from identity_review as r
      left join identity_links as l
        on l.tenant = r.tenant and l.source = r.source and l.external_id = r.external_id
      cross join lateral unnest(array_append(r.customer_ids, l.customer_id)) as x (id)
      cross join lateral unnest(array_append(r.customer_ids, l.customer_id)) as y (id)
     where r.resolved_at is null and x.id < y.id and r.tenant = $1
)
select count(*)
  from pairs as p
 where exists (select 1 from customers where id = p.one)
   and exists (select 1 from customers where id = p.other)
   and not exists (select 1 from decided_apart as d
                    where (d.a, d.b) in ((p.one, p.other), (p.other, p.one)))
"""

_COUNT_LINKS = """
select l.source, count(*) as links, count(*) filter (where per.links = 1) as standalone
  from identity_links as l
  join (select customer_id, count(*) as links
          from identity_links
         where tenant = $1
         group by customer_id) as per on per.customer_id = l.customer_id
 where l.tenant = $1
 group by l.source
"""

_SELECT_LATEST_SYNC_RUN = """
select id, started_at, finished_at, outcome, mode, counts::text as counts
  from sync_runs
 where tenant = $1
 order by id desc
 limit 1
"""

_COUNT_OPEN_REVIEWS = """
select source, count(*) as records from identity_review
 where resolved_at is null and tenant = $1
 group by source
"""


@dataclass(frozen=True, slots=True)
class LinkCounts:
    """One source's links, and how many are their customer's only link."""

    links: int
    standalone: int


@dataclass(frozen=True, slots=True)
class SyncRunSummary:
    """The latest identity sync run: when, how it ended, full or incremental, its counts."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    mode: str
    #: Per source (``"CRM"``): the sync's counts (``seen``, ``linked_new``, ...).
    counts: Mapping[str, Any]


class IdentityViewStore:
    """Reads one tenant's identity tables for the graph, the report and /metrics (no
    writes)."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool
        self._tenant = store.tenant

    async def contact_keys(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[ContactKey, ...]]:
        """Each customer's keys, its records in the order they were linked."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        rows = await self._pool.fetch(_SELECT_CONTACT_KEYS, wanted, self._tenant)
        found: dict[CustomerId, list[ContactKey]] = {}
        for row in rows:
            found.setdefault(CustomerId(row["customer_id"]), []).append(
                ContactKey(
                    kind=row["kind"],
                    value=row["value"],
                    source=Source(row["source"]),
                    external_id=row["external_id"],
                )
            )
        return {customer_id: tuple(keys) for customer_id, keys in found.items()}

    async def duplicate_leads(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[DuplicateLead, ...]]:
        """Each customer's leads to the oldest ``MAX_CANDIDATES`` other customers (of each
        kind of lead), oldest first; pairs decided apart left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._pool.acquire() as conn:
            shared = await conn.fetch(
                _SELECT_SHARED_KEY_LEADS, wanted, MAX_CANDIDATES, self._tenant
            )
            reviews = await conn.fetch(_SELECT_REVIEW_LEADS, wanted, MAX_CANDIDATES, self._tenant)
        ordered: list[tuple[CustomerId, datetime, DuplicateLead]] = []
        for row in shared:
            lead: DuplicateLead = SharedKeyLead(
                other=CustomerId(row["other"]),
                kind=row["kind"],
                source=Source(row["source"]),
                external_id=row["external_id"],
            )
            ordered.append((CustomerId(row["customer_id"]), row["created_at"], lead))
        for row in reviews:
            lead = ReviewLead(
                other=CustomerId(row["other"]),
                kind=row["kind"],
                source=Source(row["source"]),
                external_id=row["external_id"],
                rules=tuple(row["rules"]),
            )
            ordered.append((CustomerId(row["customer_id"]), row["created_at"], lead))
        # Oldest other customer first, its key leads before its review leads (stable sort).
        ordered.sort(key=lambda item: (item[0], item[1], item[2].other))
        found: dict[CustomerId, list[DuplicateLead]] = {}
        for customer_id, _, lead in ordered:
            found.setdefault(customer_id, []).append(lead)
        return {customer_id: tuple(leads) for customer_id, leads in found.items()}

    async def conflict_counts(self) -> dict[str, int]:
        """Customers whose records hold different values, by key kind (kinds with none absent)."""
        rows = await self._pool.fetch(_COUNT_CONFLICTS, self._tenant)
        return {row["kind"]: row["customers"] for row in rows}

    async def duplicate_pair_count(self) -> int:
        """Pairs of customers that are leads of each other, each pair once."""
        count: int = await self._pool.fetchval(_COUNT_DUPLICATE_PAIRS, self._tenant)
        return count

    async def link_counts(self) -> dict[Source, LinkCounts]:
        """Links per source, and how many are their customer's only link."""
        rows = await self._pool.fetch(_COUNT_LINKS, self._tenant)
        return {
            Source(row["source"]): LinkCounts(links=row["links"], standalone=row["standalone"])
            for row in rows
        }

    async def latest_sync_run(self) -> SyncRunSummary | None:
        """The most recently started identity sync, finished or not."""
        row = await self._pool.fetchrow(_SELECT_LATEST_SYNC_RUN, self._tenant)
        if row is None:
            return None
        return SyncRunSummary(
            id=row["id"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            outcome=row["outcome"],
            mode=row["mode"],
            counts=json.loads(row["counts"]),
        )

    async def open_review_counts(self) -> dict[Source, int]:
        """Records left for review (open ``identity_review`` rows), per source."""
        rows = await self._pool.fetch(_COUNT_OPEN_REVIEWS, self._tenant)
        return {Source(row["source"]): row["records"] for row in rows}
