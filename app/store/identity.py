"""The SQL of issue 3's identity layer: review rows, people's decisions, short live sessions.

``app/store/customers.py`` keeps the identity tables' core (customers, links, keys) and
``app/store/sync/session.py`` writes the sync's pages; this module holds what the linking
engine and supervisors add to it (tables of ``005_identity_review.sql``):

- ``identity_review``: what the rules found but left for a person (``write_reviews``, in the
  transaction of the page that linked the record);
- ``identity_decisions``: supervisors' link / unlink decisions (``IdentityDecisionStore``),
  and which customers a record was unlinked from, which no rule may link it to again
  (``unlinked_from``);
- ``LinkConflict``: what a concurrent writer of the same link meets (a live lookup's
  session, ``app.store.sync.session.live_session``, takes no advisory lock).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kernel.identity import CustomerId
from kernel.models import Source
from kernel.tenancy import TenantId


class PooledStore(Protocol):
    """A store on an asyncpg pool (``app.store.customers.Store``)."""

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The pool the store runs on."""
        ...

    @property
    def tenant(self) -> TenantId:
        """The tenant whose rows the store reads and writes."""
        ...


__all__ = [
    "DecisionOutcome",
    "DecisionRefusal",
    "IdentityDecisionStore",
    "LinkConflict",
    "LinksChanged",
    "PooledStore",
    "ReviewKind",
    "ReviewRow",
    "unlinked_from",
    "write_reviews",
]

ReviewKind = Literal["ambiguous", "rules_disagree"]
#: Why the store refused a decision; nothing was changed.
DecisionRefusal = Literal["unknown_record", "unknown_customer", "not_linked_there", "only_link"]
#: A placeholder name for a customer: (name, rank) from a record's source and id.
PlaceholderName = Callable[[Source, str], tuple[str, int]]

#: Told the customers whose links just changed (live links, people's decisions), so that
#: what derives from links (the analysts' read model) follows at once.
LinksChanged = Callable[[Sequence[CustomerId]], Awaitable[None]]


class LinkConflict(Exception):
    """A record of the page was linked by someone else (a live lookup, a sync) meanwhile.

    Raised by ``SyncSession.write_page`` instead of the primary key's violation; the page's
    transaction is rolled back, and the caller reads the page again (the record now keeps
    the link it was given).
    """


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A record the rules could not link on their own, and the customers they pointed at.

    ``customer_ids[i]`` was found by ``rules[i]``; no personal value is kept.
    """

    external_id: str
    kind: ReviewKind
    customer_ids: tuple[CustomerId, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    """What a decision did: its row, where the record was, where it is, what was deleted."""

    decision_id: int
    from_customer: CustomerId
    to_customer: CustomerId
    deleted_customer: CustomerId | None


# --- SQL -----------------------------------------------------------------------------------

# Re-detection refreshes the row and reopens it: the rules found the same thing again.
_UPSERT_REVIEWS = """
insert into identity_review (tenant, kind, source, external_id, customer_ids, rules)
select $6, new.kind, $1, new.external_id, string_to_array(new.customer_ids, ','),
       string_to_array(new.rules, ',')
  from unnest($2::text[], $3::text[], $4::text[], $5::text[])
       as new (external_id, kind, customer_ids, rules)
on conflict (tenant, source, external_id, kind) do update
   set customer_ids = excluded.customer_ids, rules = excluded.rules,
       detected_at = now(), resolved_at = null
"""
# The latest decision per (record, customer) holds; an 'unlink' there forbids the customer.
_SELECT_UNLINKED_FROM = """
select external_id, customer_id
  from (select distinct on (external_id, customer_id) external_id, customer_id, decision
          from identity_decisions
         where tenant = $3 and source = $1 and external_id = any($2::text[])
         order by external_id, customer_id, id desc) as latest
 where decision = 'unlink'
"""
_LOCK_LINK = """
select customer_id from identity_links
 where tenant = $3 and source = $1 and external_id = $2
   for update
"""
_LOCK_CUSTOMER = """
select id, display_name, display_rank, display_ref from customers
 where id = $1 and tenant = $2
   for update
"""
_OTHER_LINKS = """
select source, external_id from identity_links
 where customer_id = $1 and not (source = $2 and external_id = $3) and tenant = $4
"""
_INSERT_CUSTOMER = """
insert into customers (tenant, id, display_name, display_rank, display_ref, created_at,
                       updated_at)
values ($5, $1, $2, $3, $4, now(), now())
"""
_RENAME_CUSTOMER = """
update customers set display_name = $2, display_rank = $3, display_ref = $4, updated_at = now()
 where id = $1 and tenant = $5
"""
_MOVE_LINK = """
update identity_links
   set customer_id = $3, matched_by = 'manual', confidence = 1.0, linked_via = 'manual',
       linked_at = now()
 where source = $1 and external_id = $2 and tenant = $4
"""
_MOVE_KEYS = """
update lookup_keys set customer_id = $3 where source = $1 and external_id = $2 and tenant = $4
"""
_DELETE_EMPTY_CUSTOMER = """
delete from customers as c
 where c.id = $1 and c.tenant = $2
   and not exists (select 1 from identity_links where customer_id = c.id)
returning c.id
"""
_INSERT_DECISION = """
insert into identity_decisions (tenant, decision, source, external_id, customer_id, reason,
                                decided_by)
values ($7, $1, $2, $3, $4, $5, $6)
returning id
"""
# A person has now decided about the record: what the rules left for one is settled.
_RESOLVE_REVIEWS = """
update identity_review set resolved_at = now()
 where source = $1 and external_id = $2 and resolved_at is null and tenant = $3
"""


# --- the engine's additions to a sync page -------------------------------------------------


async def write_reviews(
    conn: PoolConnectionProxy[asyncpg.Record],
    tenant: TenantId,
    source: Source,
    rows: Sequence[ReviewRow],
) -> None:
    """Record ``rows`` of ``tenant``'s ``source`` (within the caller's transaction)."""
    if not rows:
        return
    # Ids and rule names hold no commas (customer ids are url-safe tokens), so each array
    # travels as one joined text: PostgreSQL arrays of arrays cannot be ragged.
    await conn.execute(
        _UPSERT_REVIEWS,
        source.value,
        [row.external_id for row in rows],
        [row.kind for row in rows],
        [",".join(row.customer_ids) for row in rows],
        [",".join(row.rules) for row in rows],
        tenant,
    )


async def unlinked_from(
    conn: PoolConnectionProxy[asyncpg.Record],
    tenant: TenantId,
    source: Source,
    external_ids: Collection[str],
) -> dict[str, frozenset[CustomerId]]:
    """For each of ``tenant``'s records that has them, the customers a person unlinked it
    from."""
    if not external_ids:
        return {}
    rows = await conn.fetch(_SELECT_UNLINKED_FROM, source.value, list(external_ids), tenant)
    found: dict[str, set[CustomerId]] = {}
    for row in rows:
        found.setdefault(row["external_id"], set()).add(CustomerId(row["customer_id"]))
    return {external_id: frozenset(customers) for external_id, customers in found.items()}


# --- supervisors' decisions ----------------------------------------------------------------


class IdentityDecisionStore:
    """Moves one record between customers for a person, with the decision's row, atomically.

    Each method is one transaction that locks the record's link (and the customers it
    touches) first, checks the request against what it finds, and either changes nothing
    (returning a ``DecisionRefusal``) or moves the link and the record's lookup keys, keeps
    the customers' names honest, deletes a customer left with no links, records the decision
    and settles the record's review rows.
    """

    def __init__(self, store: PooledStore, placeholder: PlaceholderName) -> None:
        self._pool = store.pool
        self._tenant = store.tenant
        self._placeholder = placeholder

    async def unlink(
        self,
        source: Source,
        external_id: str,
        customer_id: CustomerId,
        new_customer_id: CustomerId,
        reason: str,
        decided_by: str,
    ) -> DecisionOutcome | DecisionRefusal:
        """Move the record from ``customer_id`` to a new customer of its own."""
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchval(_LOCK_LINK, source.value, external_id, self._tenant)
            if current is None:
                return "unknown_record"
            if current != customer_id:
                return "not_linked_there"
            old = await conn.fetchrow(_LOCK_CUSTOMER, customer_id, self._tenant)
            others = await conn.fetch(
                _OTHER_LINKS, customer_id, source.value, external_id, self._tenant
            )
            if old is None or not others:
                return "only_link"
            ref = f"{source.value}:{external_id}"
            if old["display_ref"] == ref:
                # The name was this record's: it goes with it.
                name, rank = old["display_name"], old["display_rank"]
                await self._rename_from(conn, customer_id, others)
            else:
                name, rank = self._placeholder(source, external_id)
            await conn.execute(_INSERT_CUSTOMER, new_customer_id, name, rank, ref, self._tenant)
            await self._move(conn, self._tenant, source, external_id, new_customer_id)
            decision_id = await self._decide(
                conn, self._tenant, "unlink", source, external_id, customer_id, reason, decided_by
            )
        return DecisionOutcome(decision_id, customer_id, new_customer_id, None)

    async def link(
        self,
        source: Source,
        external_id: str,
        customer_id: CustomerId,
        reason: str,
        decided_by: str,
    ) -> DecisionOutcome | DecisionRefusal:
        """Move the record to ``customer_id`` (or confirm it there, as a person's link)."""
        async with self._pool.acquire() as conn, conn.transaction():
            target = await conn.fetchrow(_LOCK_CUSTOMER, customer_id, self._tenant)
            if target is None:
                return "unknown_customer"
            current = await conn.fetchval(_LOCK_LINK, source.value, external_id, self._tenant)
            if current is None:
                return "unknown_record"
            previous = CustomerId(current)
            deleted: CustomerId | None = None
            if previous != customer_id:
                old = await conn.fetchrow(_LOCK_CUSTOMER, previous, self._tenant)
                others = await conn.fetch(
                    _OTHER_LINKS, previous, source.value, external_id, self._tenant
                )
                ref = f"{source.value}:{external_id}"
                if old is not None and old["display_ref"] == ref:
                    if old["display_rank"] < target["display_rank"]:
                        await conn.execute(
                            _RENAME_CUSTOMER,
                            customer_id,
                            old["display_name"],
                            old["display_rank"],
                            ref,
                            self._tenant,
                        )
                    if others:
                        await self._rename_from(conn, previous, others)
            await self._move(conn, self._tenant, source, external_id, customer_id)
            if previous != customer_id:
                gone = await conn.fetchval(_DELETE_EMPTY_CUSTOMER, previous, self._tenant)
                deleted = None if gone is None else CustomerId(gone)
            decision_id = await self._decide(
                conn, self._tenant, "link", source, external_id, customer_id, reason, decided_by
            )
        return DecisionOutcome(decision_id, previous, customer_id, deleted)

    async def _rename_from(
        self,
        conn: PoolConnectionProxy[asyncpg.Record],
        customer_id: CustomerId,
        others: Sequence[asyncpg.Record],
    ) -> None:
        """Name a customer that lost the record naming it after the best record it keeps.

        Only the source and id are known here, so it is a placeholder of the worst rank: the
        next sync (or a rename at the source) replaces it with that record's real name.
        """
        named = [
            (*self._placeholder(Source(row["source"]), row["external_id"]), row) for row in others
        ]
        name, rank, row = min(named, key=lambda item: (item[1], item[0]))
        await conn.execute(
            _RENAME_CUSTOMER,
            customer_id,
            name,
            rank,
            f"{row['source']}:{row['external_id']}",
            self._tenant,
        )

    @staticmethod
    async def _move(
        conn: PoolConnectionProxy[asyncpg.Record],
        tenant: TenantId,
        source: Source,
        external_id: str,
        customer_id: CustomerId,
    ) -> None:
        await conn.execute(_MOVE_LINK, source.value, external_id, customer_id, tenant)
        await conn.execute(_MOVE_KEYS, source.value, external_id, customer_id, tenant)

    @staticmethod
    async def _decide(
        conn: PoolConnectionProxy[asyncpg.Record],
        tenant: TenantId,
        decision: Literal["link", "unlink"],
        source: Source,
        external_id: str,
        customer_id: CustomerId,
        reason: str,
        decided_by: str,
    ) -> int:
        decision_id: int = await conn.fetchval(
            _INSERT_DECISION,
            decision,
            source.value,
            external_id,
            customer_id,
            reason,
            decided_by,
            tenant,
        )
        await conn.execute(_RESOLVE_REVIEWS, source.value, external_id, tenant)
        return decision_id
