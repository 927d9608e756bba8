"""The identity store: customers, their links to each system, and lookup keys, in PostgreSQL.

``Store`` implements ``kernel.identity.IdentityStore`` (the read side the graph needs)
over an ``asyncpg`` pool, and owns its schema: ``migrate()`` applies the ``.sql`` files of
``app/migrations`` in filename order, each once, in its own transaction, and records them
in ``schema_migrations``. The write side is for ``app.sync.runner``: a ``SyncSession`` holds one
connection and the sync lock for a whole run and writes a page of records per transaction,
with array parameters (``unnest``) rather than one round trip per record.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.store.identity import LinkConflict, ReviewRow, unlinked_from, write_reviews
from kernel.access import AuditEntry, AuditTrailPage, RecordedAuditEntry
from kernel.identity import CustomerId, CustomerRecord, IdentityLink
from kernel.models import Source

__all__ = [
    "AuditTrailStore",
    "DisplayName",
    "HandoffConflict",
    "InteractionEvent",
    "InteractionRow",
    "InteractionState",
    "KeyKind",
    "KeyRow",
    "LinkedRecord",
    "LookupKey",
    "MatchedBy",
    "NewCustomer",
    "NewInteraction",
    "NewLink",
    "PageWrite",
    "Store",
    "SyncRun",
    "SyncSession",
    "WebhookEventWrite",
    "WebhookLedger",
]

KeyKind = Literal["email", "phone"]
MatchedBy = Literal["anchor", "xref", "email", "phone", "manual"]
#: What made a link: the batch sync, a live lookup, a webhook, or a person's decision.
LinkedVia = Literal["sync", "live", "webhook", "manual"]
SyncOutcome = Literal["running", "succeeded", "failed"]
#: A sync that read every source in full, or read at least one from its saved cursor.
SyncMode = Literal["full", "incremental"]

# Advisory lock ids (any bigint unique to this application): one serialises migrations
# between processes starting together, the other keeps two syncs from creating the same
# customer twice.
_MIGRATIONS_LOCK = 0x5C5_0001
_SYNC_LOCK = 0x5C5_0002

# Found next to this module rather than by package name: under pytest, ``tests/app`` can
# pass for a namespace package ``app`` and would be searched instead.
_MIGRATIONS = Path(__file__).with_name("migrations")


# --- values the sync hands to the store ---------------------------------------------------


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


# --- SQL -----------------------------------------------------------------------------------

_CREATE_SCHEMA_MIGRATIONS = """
create table if not exists schema_migrations (
    version    text primary key,
    applied_at timestamptz not null default now()
)
"""
_SELECT_APPLIED = "select version from schema_migrations order by version"
_INSERT_APPLIED = "insert into schema_migrations (version) values ($1)"
_MIGRATIONS_TABLE_EXISTS = "select to_regclass('schema_migrations') is not null"
_PING = "select 1"

# One round trip: a row per link (a customer without links has one, its link columns null).
_SELECT_CUSTOMERS_WITH_LINKS = """
select c.id, c.display_name,
       l.source, l.external_id, l.matched_by, l.confidence, l.linked_via, l.linked_at
  from customers as c
  left join identity_links as l on l.customer_id = c.id
 where c.id = any($1::text[])
 order by c.id, l.linked_at, l.source, l.external_id
"""
_FIND_BY_KEY = """
select c.id
  from customers as c
 where exists (
        select 1 from lookup_keys as k
         where k.kind = $1 and k.value = $2 and k.customer_id = c.id)
 order by c.created_at, c.id
"""
# The oldest customer with a key and its links, in one round trip (a row per link).
_FIRST_BY_KEY_WITH_LINKS = """
with first as (
    select c.id, c.display_name
      from customers as c
     where exists (
            select 1 from lookup_keys as k
             where k.kind = $1 and k.value = $2 and k.customer_id = c.id)
     order by c.created_at, c.id
     limit 1)
select first.id, first.display_name,
       l.source, l.external_id, l.matched_by, l.confidence, l.linked_via, l.linked_at
  from first
  left join identity_links as l on l.customer_id = first.id
 order by l.linked_at, l.source, l.external_id
"""
_FIND_BY_SOURCE_ID = """
select customer_id from identity_links where source = $1 and external_id = $2
"""
_COUNT_CUSTOMERS = "select count(*) from customers"

# The sync's lookups probe the primary keys once per id of the page, in lateral subqueries
# the planner cannot turn into joins (``limit``/``offset``): a first sync grows the tables
# faster than autovacuum re-samples them, and a plan made from the old statistics (a source
# that looks absent, say) would scan every row of that source for every page.
_SELECT_LINKS_OF_RECORDS = """
select wanted.external_id, link.customer_id
  from unnest($2::text[]) as wanted (external_id)
  join lateral (
        select customer_id from identity_links
         where source = $1 and external_id = wanted.external_id
         limit 1) as link on true
"""
_SELECT_LINKED_RECORDS = """
select wanted.external_id, link.customer_id, link.display_name, link.display_rank,
       link.display_ref, key.kind, key.value
  from unnest($2::text[]) as wanted (external_id)
  join lateral (
        select l.customer_id, c.display_name, c.display_rank, c.display_ref
          from identity_links as l
          join customers as c on c.id = l.customer_id
         where l.source = $1 and l.external_id = wanted.external_id
         limit 1) as link on true
  left join lateral (
        select kind, value from lookup_keys
         where source = $1 and external_id = wanted.external_id
        offset 0) as key on true
"""
_SELECT_CUSTOMERS_BY_KEYS = """
select distinct k.kind, k.value, k.customer_id
  from lookup_keys as k
  join unnest($1::text[], $2::text[]) as wanted (kind, value)
    on k.kind = wanted.kind and k.value = wanted.value
"""
_INSERT_CUSTOMERS = """
insert into customers (id, display_name, display_rank, display_ref, created_at, updated_at)
select id, display_name, display_rank, display_ref, created_at, created_at
  from unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::timestamptz[])
       as new (id, display_name, display_rank, display_ref, created_at)
"""
# A better-ranked name replaces the current one; so does a changed value from the very
# record that supplied it. Unchanged names are not rewritten, so a second run is a no-op.
_UPDATE_DISPLAY_NAMES = """
update customers as c
   set display_name = p.name, display_rank = p.rank, display_ref = p.ref, updated_at = now()
  from unnest($1::text[], $2::text[], $3::smallint[], $4::text[]) as p (id, name, rank, ref)
 where c.id = p.id
   -- Redundant with the join, but it lets the planner reach customers by primary key
   -- rather than scanning the table for every page.
   and c.id = any($1::text[])
   and (p.rank < c.display_rank
        or (p.ref = c.display_ref
            and (p.name, p.rank) is distinct from (c.display_name, c.display_rank)))
"""
_INSERT_LINKS = """
insert into identity_links (source, external_id, customer_id, matched_by, linked_at, confidence,
                            linked_via)
select $1, external_id, customer_id, matched_by, linked_at, confidence, linked_via
  from unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::real[], $7::text[])
       as new (external_id, customer_id, matched_by, linked_at, confidence, linked_via)
"""
_DELETE_KEYS = """
delete from lookup_keys as k
 using unnest($2::text[], $3::text[], $4::text[]) as gone (external_id, kind, value)
 where k.source = $1
   and k.external_id = gone.external_id
   and k.kind = gone.kind
   and k.value = gone.value
"""
# A conflict means the key was stored for another customer, which only a change of link
# outside the sync could cause: the key then follows the record's current customer.
_INSERT_KEYS = """
insert into lookup_keys (source, external_id, kind, value, customer_id)
select $1, external_id, kind, value, customer_id
  from unnest($2::text[], $3::text[], $4::text[], $5::text[])
       as new (external_id, kind, value, customer_id)
on conflict (source, external_id, kind, value) do update
   set customer_id = excluded.customer_id
"""
_INSERT_SYNC_RUN = "insert into sync_runs (mode) values ($1) returning id"
_FINISH_SYNC_RUN = """
update sync_runs set finished_at = now(), outcome = $2, counts = $3::jsonb where id = $1
"""
_COUNT_SYNC_RUNS = """
select outcome, count(*) as runs from sync_runs group by outcome
"""
_SELECT_LATEST_SYNC_RUN = """
select id, started_at, finished_at, outcome, counts::text as counts, mode
  from sync_runs
 order by id desc
 limit 1
"""


# --- interactions (IVR handoffs, claims, transfers, verification) -------------------------

InteractionState = Literal["WAITING", "ACTIVE", "ENDED"]
InteractionStep = Literal["HANDOFF", "CLAIM", "TRANSFER", "END", "VERIFY"]
HandoffConflict = Literal["replayed", "contact_taken"]


@dataclass(frozen=True, slots=True)
class InteractionRow:
    """An interaction as stored; whether it has expired is the reader's to judge."""

    id: str
    contact_id: str
    customer_id: CustomerId
    state: InteractionState
    agent: str | None
    level: int
    method: str | None
    result: str | None
    score: float | None
    verified_at: datetime | None
    verified_by: str | None
    kba_attempts: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewInteraction:
    """An interaction to open from a verified handoff, and the handoff's ``(iss, jti)``."""

    id: str
    contact_id: str
    customer_id: CustomerId
    level: int
    method: str
    result: str
    score: float | None
    verified_at: datetime
    verified_by: str
    created_at: datetime
    expires_at: datetime
    issuer: str
    jti: str


@dataclass(frozen=True, slots=True)
class InteractionEvent:
    """One step of an interaction's history."""

    kind: InteractionStep
    actor: str
    detail: dict[str, Any]
    at: datetime


# Rows are read by column name, so ``returning *`` / ``select *`` stay correct as columns
# are added; the statements stay plain literals (no SQL is ever assembled from strings).

_HANDOFF_SEEN = "select exists (select 1 from ivr_handoff_jtis where issuer = $1 and jti = $2)"

_INSERT_HANDOFF_JTI = """
insert into ivr_handoff_jtis (issuer, jti, contact_id, received_at)
values ($1, $2, $3, $4)
on conflict do nothing
returning jti
"""

_INSERT_INTERACTION = """
insert into interactions (id, contact_id, customer_id, state, level, method, result, score,
                          verified_at, verified_by, created_at, updated_at, expires_at)
values ($1, $2, $3, 'WAITING', $4, $5, $6, $7, $8, $9, $10, $10, $11)
on conflict (contact_id) do nothing
returning *
"""

_SELECT_INTERACTION_BY_CONTACT = "select * from interactions where contact_id = $1"
_SELECT_INTERACTION_BY_ID = "select * from interactions where id = $1"

# Each step is one conditional UPDATE: the condition is the rule (who may, in which state,
# before expiry), so two agents racing for one call cannot both win it.
_CLAIM_INTERACTION = """
update interactions set state = 'ACTIVE', agent = $2, updated_at = $3
 where contact_id = $1 and expires_at > $3
   and (state = 'WAITING' or (state = 'ACTIVE' and agent = $2))
returning *
"""

_TRANSFER_INTERACTION = """
update interactions set agent = $3, updated_at = $4
 where contact_id = $1 and state = 'ACTIVE' and expires_at > $4
   and ($2::text is null or agent = $2)
returning *
"""

_END_INTERACTION = """
update interactions set state = 'ENDED', updated_at = $3
 where contact_id = $1 and state <> 'ENDED' and expires_at > $3
   and ($2::text is null or agent = $2)
returning *
"""

_RECORD_KBA_ATTEMPT = """
update interactions
   set kba_attempts = kba_attempts + 1,
       level = case when $4 then greatest(level, $5) else level end,
       method = case when $4 then 'KBA' else method end,
       result = case when $4 then 'AUTHENTICATED' else result end,
       score = case when $4 then null else score end,
       verified_at = case when $4 then $3 else verified_at end,
       verified_by = case when $4 then $2 else verified_by end,
       updated_at = $3
 where contact_id = $1 and state = 'ACTIVE' and agent = $2 and expires_at > $3
   and kba_attempts < $6
returning *
"""

_INSERT_INTERACTION_EVENT = """
insert into interaction_events (interaction_id, kind, actor, detail, at)
values ($1, $2, $3, $4::jsonb, $5)
"""

_SELECT_INTERACTION_EVENTS = """
select kind, actor, detail, at from interaction_events where interaction_id = $1 order by id
"""


class _ContactTaken(Exception):
    """Raised inside the handoff's transaction so that its jti row is rolled back too."""


def _interaction_row(row: asyncpg.Record) -> InteractionRow:
    return InteractionRow(
        id=row["id"],
        contact_id=row["contact_id"],
        customer_id=CustomerId(row["customer_id"]),
        state=row["state"],
        agent=row["agent"],
        level=row["level"],
        method=row["method"],
        result=row["result"],
        score=row["score"],
        verified_at=row["verified_at"],
        verified_by=row["verified_by"],
        kba_attempts=row["kba_attempts"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


# --- the store -----------------------------------------------------------------------------


def _records_from_rows(rows: Sequence[asyncpg.Record]) -> dict[CustomerId, CustomerRecord]:
    """Customers with their links from rows of ``_SELECT_CUSTOMERS_WITH_LINKS`` (a row per
    link, link columns null for a customer without any), in the rows' order."""
    names: dict[str, str] = {}
    links_by_customer: dict[str, list[IdentityLink]] = {}
    for row in rows:
        names[row["id"]] = row["display_name"]
        if row["source"] is None:
            continue
        links_by_customer.setdefault(row["id"], []).append(
            IdentityLink(
                source=Source(row["source"]),
                external_id=row["external_id"],
                matched_by=row["matched_by"],
                # Stored as a 4-byte real: 0.9 reads back as 0.8999999761...
                confidence=round(row["confidence"], 4),
                linked_via=row["linked_via"],
                linked_at=row["linked_at"],
            )
        )
    return {
        CustomerId(customer_id): CustomerRecord(
            id=CustomerId(customer_id),
            display_name=name,
            links=tuple(links_by_customer.get(customer_id, ())),
        )
        for customer_id, name in names.items()
    }


async def _session_state_unchanged(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """The pool's reset of a connection it takes back: none beyond asyncpg's own local one
    (an open transaction is rolled back, listeners dropped).

    asyncpg's default sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: one more round trip for every query of every request, which changes
    no session state. The blocks that do (an advisory lock, a setting) reset their
    connection themselves (``_changing_session_state``).
    """


@asynccontextmanager
async def _changing_session_state(
    pool: asyncpg.Pool[asyncpg.Record],
) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
    """A pooled connection for a block that changes its session state (advisory locks,
    settings): reset in full before it goes back to the pool, or closed if that fails or is
    cancelled, so the next user never inherits a lock or a setting."""
    async with pool.acquire() as conn:
        try:
            yield conn
        finally:
            try:
                await conn.reset()
            except BaseException:
                conn.terminate()
                raise


class Store:
    """Customers, identity links and lookup keys in PostgreSQL (an ``IdentityStore``)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, pool_size: int = 10) -> Self:
        """A store over a new pool of at most ``pool_size`` connections to ``url``."""
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, reset=_session_state_unchanged
        )
        return cls(pool)

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The pool the store runs on (for health checks; queries belong in the store)."""
        return self._pool

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        await self._pool.close()

    # -- schema ----------------------------------------------------------------------------

    async def migrate(self, directory: Path | Traversable | None = None) -> list[str]:
        """Apply the migrations not applied yet; return their names, in the order applied.

        ``directory`` defaults to ``app/migrations``. Files (``*.sql``) run in filename order,
        each in its own transaction together with its ``schema_migrations`` row, while an
        advisory lock keeps a second process starting at the same time waiting rather than
        applying them twice. Running it again applies nothing.
        """
        migrations = _read_migrations(directory or _MIGRATIONS)
        applied: list[str] = []
        async with _changing_session_state(self._pool) as conn:
            await conn.execute("select pg_advisory_lock($1)", _MIGRATIONS_LOCK)
            try:
                await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
                done = {row["version"] for row in await conn.fetch(_SELECT_APPLIED)}
                for version, sql in migrations:
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(_INSERT_APPLIED, version)
                    applied.append(version)
            finally:
                await conn.execute("select pg_advisory_unlock($1)", _MIGRATIONS_LOCK)
        return applied

    async def applied_migrations(self) -> list[str]:
        """The names of the migrations applied to this database, in filename order."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_APPLIED)
        return [row["version"] for row in rows]

    async def ping(self, within_seconds: float = 1.0) -> bool:
        """Whether the database answers ``select 1`` within ``within_seconds``.

        Any failure (closed pool, refused connection, timeout) is an answer, not an error:
        readiness checks ask this and must not raise.
        """
        try:
            async with asyncio.timeout(within_seconds):
                async with self._pool.acquire() as conn:
                    return bool(await conn.fetchval(_PING) == 1)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def pending_migrations(self, directory: Path | Traversable | None = None) -> list[str]:
        """The migrations of ``directory`` (default ``app/migrations``) not applied yet."""
        known = [version for version, _ in _read_migrations(directory or _MIGRATIONS)]
        async with self._pool.acquire() as conn:
            exists = await conn.fetchval(_MIGRATIONS_TABLE_EXISTS)
            done = (
                {row["version"] for row in await conn.fetch(_SELECT_APPLIED)} if exists else set()
            )
        return [version for version in known if version not in done]

    # -- IdentityStore -------------------------------------------------------------------

    async def get_customers(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerRecord]:
        """The customers with these ids, with their links; unknown ids are absent."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_CUSTOMERS_WITH_LINKS, wanted)
        return _records_from_rows(rows)

    async def first_by_phone(self, e164: str) -> CustomerRecord | None:
        """The oldest customer with this E.164 phone, with its links (one round trip)."""
        return await self._first_by_key("phone", e164)

    async def first_by_email(self, email: str) -> CustomerRecord | None:
        """The oldest customer with this normalised email, with its links (one round trip)."""
        return await self._first_by_key("email", email)

    async def _first_by_key(self, kind: KeyKind, value: str) -> CustomerRecord | None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_FIRST_BY_KEY_WITH_LINKS, kind, value)
        return next(iter(_records_from_rows(rows).values()), None)

    async def find_by_phone(self, e164: str) -> list[CustomerId]:
        """Customers with this E.164 phone in any system, oldest customer first."""
        return await self._find_by_key("phone", e164)

    async def find_by_email(self, email: str) -> list[CustomerId]:
        """Customers with this normalised email in any system, oldest customer first."""
        return await self._find_by_key("email", email)

    async def find_by_source_id(self, source: Source, external_id: str) -> CustomerId | None:
        """The customer linked to this record of ``source``, if any."""
        async with self._pool.acquire() as conn:
            found: str | None = await conn.fetchval(_FIND_BY_SOURCE_ID, source.value, external_id)
        return None if found is None else CustomerId(found)

    async def _find_by_key(self, kind: KeyKind, value: str) -> list[CustomerId]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_FIND_BY_KEY, kind, value)
        return [CustomerId(row["id"]) for row in rows]

    # -- operations ------------------------------------------------------------------------

    async def count_customers(self) -> int:
        """How many customers there are."""
        async with self._pool.acquire() as conn:
            count: int = await conn.fetchval(_COUNT_CUSTOMERS)
        return count

    async def count_sync_runs(self) -> dict[str, int]:
        """How many identity sync runs the store records, by outcome."""
        rows = await self._pool.fetch(_COUNT_SYNC_RUNS)
        return {row["outcome"]: row["runs"] for row in rows}

    async def latest_sync_run(self) -> SyncRun | None:
        """The most recently started identity sync, finished or not."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_LATEST_SYNC_RUN)
        if row is None:
            return None
        return SyncRun(
            id=row["id"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            outcome=row["outcome"],
            counts=json.loads(row["counts"]),
            mode=row["mode"],
        )

    # -- interactions ----------------------------------------------------------------------

    async def handoff_seen(self, issuer: str, jti: str) -> bool:
        """Whether a handoff with this ``(iss, jti)`` was already accepted (a cheap pre-check)."""
        async with self._pool.acquire() as conn:
            seen: bool = await conn.fetchval(_HANDOFF_SEEN, issuer, jti)
        return seen

    async def open_interaction(
        self, new: NewInteraction, detail: Mapping[str, Any]
    ) -> InteractionRow | HandoffConflict:
        """Use the handoff's jti and open its interaction, both or neither.

        ``replayed`` when the jti was used before (of two concurrent submissions, exactly
        one gets past the primary key), ``contact_taken`` when the call already has one.
        """
        try:
            return await self._open_interaction(new, detail)
        except _ContactTaken:
            return "contact_taken"

    async def _open_interaction(
        self, new: NewInteraction, detail: Mapping[str, Any]
    ) -> InteractionRow | HandoffConflict:
        async with self._pool.acquire() as conn, conn.transaction():
            used = await conn.fetchval(
                _INSERT_HANDOFF_JTI, new.issuer, new.jti, new.contact_id, new.created_at
            )
            if used is None:
                return "replayed"
            row = await conn.fetchrow(
                _INSERT_INTERACTION,
                new.id,
                new.contact_id,
                new.customer_id,
                new.level,
                new.method,
                new.result,
                new.score,
                new.verified_at,
                new.verified_by,
                new.created_at,
                new.expires_at,
            )
            if row is None:
                # Rolls the jti back too: the same handoff stays refused for the same reason.
                raise _ContactTaken
            await conn.execute(
                _INSERT_INTERACTION_EVENT,
                new.id,
                "HANDOFF",
                new.verified_by,
                json.dumps(dict(detail)),
                new.created_at,
            )
            return _interaction_row(row)

    async def get_interaction(self, contact_id: str) -> InteractionRow | None:
        """The interaction of an IVR contact, in any state."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_INTERACTION_BY_CONTACT, contact_id)
        return None if row is None else _interaction_row(row)

    async def get_interaction_by_id(self, interaction_id: str) -> InteractionRow | None:
        """The interaction with this id, in any state."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_INTERACTION_BY_ID, interaction_id)
        return None if row is None else _interaction_row(row)

    async def claim_interaction(
        self, contact_id: str, agent: str, now: datetime
    ) -> InteractionRow | None:
        """Bind a waiting interaction to ``agent`` (or confirm it holds it); None if refused."""
        return await self._step(
            _CLAIM_INTERACTION, (contact_id, agent, now), "CLAIM", agent, now, {"agent": agent}
        )

    async def transfer_interaction(
        self, contact_id: str, holder: str | None, to_agent: str, actor: str, now: datetime
    ) -> InteractionRow | None:
        """Hand an active interaction held by ``holder`` (None: whoever) to ``to_agent``."""
        return await self._step(
            _TRANSFER_INTERACTION,
            (contact_id, holder, to_agent, now),
            "TRANSFER",
            actor,
            now,
            {"to_agent": to_agent},
        )

    async def end_interaction(
        self, contact_id: str, holder: str | None, actor: str, now: datetime
    ) -> InteractionRow | None:
        """End an open interaction held by ``holder`` (None: whoever); None if refused."""
        return await self._step(_END_INTERACTION, (contact_id, holder, now), "END", actor, now, {})

    async def record_kba_attempt(
        self,
        contact_id: str,
        agent: str,
        now: datetime,
        *,
        passed: bool,
        level: int,
        max_attempts: int,
    ) -> InteractionRow | None:
        """Count one knowledge check by the holding agent; if it passed, raise the level.

        None when the agent does not hold the open interaction or no attempt is left.
        """
        return await self._step(
            _RECORD_KBA_ATTEMPT,
            (contact_id, agent, now, passed, level, max_attempts),
            "VERIFY",
            agent,
            now,
            {"outcome": "passed" if passed else "failed"},
        )

    async def interaction_history(self, interaction_id: str) -> list[InteractionEvent]:
        """Every step of an interaction, oldest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_INTERACTION_EVENTS, interaction_id)
        return [
            InteractionEvent(
                kind=row["kind"], actor=row["actor"], detail=json.loads(row["detail"]), at=row["at"]
            )
            for row in rows
        ]

    async def _step(
        self,
        update_sql: str,
        args: Sequence[object],
        kind: InteractionStep,
        actor: str,
        now: datetime,
        detail: Mapping[str, Any],
    ) -> InteractionRow | None:
        """One conditional update and its history row, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(update_sql, *args)
            if row is None:
                return None
            await conn.execute(
                _INSERT_INTERACTION_EVENT, row["id"], kind, actor, json.dumps(dict(detail)), now
            )
            return _interaction_row(row)

    @asynccontextmanager
    async def sync_session(self) -> AsyncIterator[SyncSession]:
        """One connection holding the sync lock, for the whole of one identity sync.

        A second sync (another process, or another task) waits here until the first ends.
        """
        # The connection is reset before it goes back (pg_advisory_unlock_all and RESET ALL),
        # or closed, should the explicit unlock not get to run.
        async with _changing_session_state(self._pool) as conn:
            await conn.execute("select pg_advisory_lock($1)", _SYNC_LOCK)
            # A plan per execution, from the page's own ids: a generic plan cached while the
            # tables were empty would go on scanning them as they grow to full size.
            await conn.execute("set plan_cache_mode = force_custom_plan")
            try:
                yield SyncSession(conn)
            finally:
                await conn.execute("select pg_advisory_unlock($1)", _SYNC_LOCK)


class SyncSession:
    """The reads and batch writes of one identity sync, on the connection that holds its lock.

    Obtained from ``Store.sync_session()``; not to be used after that block ends.
    """

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record]) -> None:
        self._conn = conn

    @property
    def connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        """The connection holding the sync lock, for the sync's own tables (``sync_cursors``)."""
        return self._conn

    async def start_run(self, mode: SyncMode = "full") -> int:
        """Record that a sync started, and how (``mode``); return its ``sync_runs`` id."""
        run_id: int = await self._conn.fetchval(_INSERT_SYNC_RUN, mode)
        return run_id

    async def finish_run(
        self, run_id: int, outcome: SyncOutcome, counts: Mapping[str, Mapping[str, int]]
    ) -> None:
        """Record how the sync ended, with its per-source counts."""
        await self._conn.execute(_FINISH_SYNC_RUN, run_id, outcome, json.dumps(counts))

    async def links_for(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, CustomerId]:
        """The customers the given records of ``source`` are linked to; unlinked ones absent."""
        if not external_ids:
            return {}
        rows = await self._conn.fetch(_SELECT_LINKS_OF_RECORDS, source.value, list(external_ids))
        return {row["external_id"]: CustomerId(row["customer_id"]) for row in rows}

    async def linked_records(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, LinkedRecord]:
        """The given records of ``source`` that are linked, with their stored keys."""
        if not external_ids:
            return {}
        rows = await self._conn.fetch(_SELECT_LINKED_RECORDS, source.value, list(external_ids))
        names: dict[str, DisplayName] = {}
        keys: dict[str, set[LookupKey]] = {}
        for row in rows:
            external_id = row["external_id"]
            if external_id not in names:
                names[external_id] = DisplayName(
                    CustomerId(row["customer_id"]),
                    row["display_name"],
                    row["display_rank"],
                    row["display_ref"],
                )
                keys[external_id] = set()
            if row["kind"] is not None:
                keys[external_id].add(LookupKey(kind=row["kind"], value=row["value"]))
        return {
            external_id: LinkedRecord(name.customer_id, name, frozenset(keys[external_id]))
            for external_id, name in names.items()
        }

    async def customers_by_keys(
        self, keys: Collection[LookupKey]
    ) -> dict[LookupKey, set[CustomerId]]:
        """For each key, every customer that has it (keys nobody has are absent)."""
        if not keys:
            return {}
        kinds = [key.kind for key in keys]
        values = [key.value for key in keys]
        rows = await self._conn.fetch(_SELECT_CUSTOMERS_BY_KEYS, kinds, values)
        found: dict[LookupKey, set[CustomerId]] = {}
        for row in rows:
            key = LookupKey(kind=row["kind"], value=row["value"])
            found.setdefault(key, set()).add(CustomerId(row["customer_id"]))
        return found

    async def count_customers(self) -> int:
        """How many customers there are."""
        count: int = await self._conn.fetchval(_COUNT_CUSTOMERS)
        return count

    async def unlinked_from(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, frozenset[CustomerId]]:
        """For each of these records that has any, the customers a person unlinked it from."""
        return await unlinked_from(self._conn, source, external_ids)

    async def write_page(self, page: PageWrite) -> None:
        """Write one page's customers, names, links, keys and review rows, all or nothing."""
        if not (
            page.customers
            or page.names
            or page.links
            or page.keys_added
            or page.keys_removed
            or page.reviews
        ):
            return
        conn = self._conn
        source = page.source.value
        async with conn.transaction():
            if page.customers:
                await conn.execute(
                    _INSERT_CUSTOMERS,
                    [customer.id for customer in page.customers],
                    [customer.display_name for customer in page.customers],
                    [customer.display_rank for customer in page.customers],
                    [customer.display_ref for customer in page.customers],
                    [customer.created_at for customer in page.customers],
                )
            if page.names:
                await conn.execute(
                    _UPDATE_DISPLAY_NAMES,
                    [name.customer_id for name in page.names],
                    [name.name for name in page.names],
                    [name.rank for name in page.names],
                    [name.ref for name in page.names],
                )
            if page.links:
                try:
                    await conn.execute(
                        _INSERT_LINKS,
                        source,
                        [link.external_id for link in page.links],
                        [link.customer_id for link in page.links],
                        [link.matched_by for link in page.links],
                        [link.linked_at for link in page.links],
                        [link.confidence for link in page.links],
                        [link.linked_via for link in page.links],
                    )
                except asyncpg.UniqueViolationError as exc:
                    # Linked meanwhile by a live lookup (which takes no sync lock): the
                    # caller reads the page again and keeps that link.
                    raise LinkConflict(f"a {source} record was linked meanwhile") from exc
            if page.reviews:
                await write_reviews(conn, page.source, page.reviews)
            if page.keys_removed:
                await conn.execute(
                    _DELETE_KEYS,
                    source,
                    [row.external_id for row in page.keys_removed],
                    [row.key.kind for row in page.keys_removed],
                    [row.key.value for row in page.keys_removed],
                )
            if page.keys_added:
                await conn.execute(
                    _INSERT_KEYS,
                    source,
                    [row.external_id for row in page.keys_added],
                    [row.key.kind for row in page.keys_added],
                    [row.key.value for row in page.keys_added],
                    [row.customer_id for row in page.keys_added],
                )


def _read_migrations(directory: Path | Traversable) -> list[tuple[str, str]]:
    """The ``*.sql`` files of ``directory`` as (file name, text), in file name order."""
    entries = [entry for entry in directory.iterdir() if entry.name.endswith(".sql")]
    return [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(entries, key=lambda entry: entry.name)
    ]


# --- webhooks (app.webhooks.receiver): processed events and how new each record's keys are
# ---------

KeyUpdate = Literal["applied", "stale"]

_CLAIM_WEBHOOK_EVENT = """
insert into webhook_events (source, event_id, event_type, occurred_at)
values ($1, $2, $3, $4)
on conflict (source, event_id) do nothing
returning true
"""
# Moves the record's field to the event's time unless a newer event was applied already;
# no row back means this event is older than what the keys hold.
_ADVANCE_RECORD_VERSION = """
insert into webhook_record_versions (source, external_id, field, occurred_at)
values ($1, $2, $3, $4)
on conflict (source, external_id, field) do update
   set occurred_at = excluded.occurred_at
 where webhook_record_versions.occurred_at <= excluded.occurred_at
returning true
"""
_DELETE_RECORD_KEYS = """
delete from lookup_keys where source = $1 and external_id = $2 and kind = $3
"""
# Only a linked record has keys; an unlinked one is linked (with its keys) by the next sync.
_AUDIT_KEY_CHANGE = """
insert into audit_trail (kind, subject, role, customer_id, fields, outcome, detail)
select 'LINK_CHANGE', $1, 'system', customer_id, array[$2], 'applied', $3
  from identity_links where source = $4 and external_id = $5
"""
_INSERT_RECORD_KEY = """
insert into lookup_keys (source, external_id, kind, value, customer_id)
select source, external_id, $3, $4, customer_id
  from identity_links
 where source = $1 and external_id = $2
on conflict (source, external_id, kind, value) do nothing
"""


class WebhookLedger:
    """Processes each vendor event once, across processes, and keeps keys from going back.

    ``event()`` opens a transaction that first records the event id: a duplicate (a
    vendor's retry, or the same event reaching two gateway processes at once, where the
    second insert waits for the first transaction) gets None and does nothing. Whatever the
    caller does inside (``set_key``, the cache invalidation) commits with the record of the
    event or, if it raises, rolls back with it, so the vendor's retry gets another go.
    """

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    @asynccontextmanager
    async def event(
        self, source: Source, event_id: str, event_type: str, occurred_at: datetime
    ) -> AsyncIterator[WebhookEventWrite | None]:
        """A transaction for a new event, or None for one already processed."""
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(
                _CLAIM_WEBHOOK_EVENT, source.value, event_id, event_type, occurred_at
            )
            yield WebhookEventWrite(conn, source) if claimed else None


class WebhookEventWrite:
    """What one event changes in the identity store, inside the event's transaction."""

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record], source: Source) -> None:
        self._conn = conn
        self._source = source

    async def set_key(
        self, external_id: str, kind: KeyKind, value: str | None, occurred_at: datetime
    ) -> KeyUpdate:
        """Make ``value`` (normalised; None: none) the record's only ``kind`` key.

        Skipped ("stale") when an event newer than ``occurred_at`` already set this field.
        """
        source = self._source.value
        advanced = await self._conn.fetchval(
            _ADVANCE_RECORD_VERSION, source, external_id, kind, occurred_at
        )
        if not advanced:
            return "stale"
        await self._conn.execute(_DELETE_RECORD_KEYS, source, external_id, kind)
        if value is not None:
            await self._conn.execute(_INSERT_RECORD_KEY, source, external_id, kind, value)
        # On the audit trail of the customer the record is linked to, in this transaction:
        # a key that moved changes who a lookup finds, so it is a link change. No values.
        await self._conn.execute(
            _AUDIT_KEY_CHANGE,
            f"webhook:{source.lower()}",
            f"{kind}_key",
            f"{source} record {external_id}: {kind} lookup key "
            + ("replaced" if value is not None else "removed"),
            source,
            external_id,
        )
        return "applied"


# --- audit trail (app.security.audit): append-only, read back newest first, pruned by age
# ----------

# One statement per request's batch: the rows are parameters as arrays, so a request that
# touched three customers costs one round trip, not three. ``fields`` travel as one
# comma-joined text per row (schema coordinates hold no commas) because PostgreSQL arrays
# cannot be ragged. The time is the server's: a caller cannot date an entry.
_INSERT_AUDIT_ENTRIES = """
insert into audit_trail (kind, request_id, subject, role, interaction_id, customer_id, fields,
                         masked, purpose, outcome, client_address, detail)
select kind, request_id, subject, role, interaction_id, customer_id,
       string_to_array(fields, ','), masked, purpose, outcome, client_address, detail
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[])
       as new (kind, request_id, subject, role, interaction_id, customer_id, fields, masked,
               purpose, outcome, client_address, detail)
"""
_SELECT_AUDIT_TRAIL = """
select id, at, kind, request_id, subject, role, interaction_id, customer_id, fields, masked,
       purpose, outcome, client_address, detail
  from audit_trail
 where customer_id = $1 and ($2::bigint is null or id < $2)
 order by id desc
 limit $3
"""
_PRUNE_AUDIT_TRAIL = "select audit_prune($1)"


class AuditTrailStore:
    """The ``audit_trail`` table: append a batch, read one customer's page, prune by age.

    Implements ``kernel.access.AuditReader``; ``app.security.audit.PostgresAuditSink`` writes
    through it with its own timeout and metrics.
    """

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Insert ``entries`` in one statement; durable (committed) when it returns."""
        if not entries:
            return
        for entry in entries:
            if any("," in name for name in entry.fields):
                raise ValueError("audit field names must not contain commas")
        async with self._pool.acquire() as conn:
            await conn.execute(
                _INSERT_AUDIT_ENTRIES,
                [e.kind for e in entries],
                [e.request_id for e in entries],
                [e.subject for e in entries],
                [e.role for e in entries],
                [e.interaction_id for e in entries],
                [e.customer_id for e in entries],
                [",".join(e.fields) for e in entries],
                [e.masked for e in entries],
                [e.purpose for e in entries],
                [e.outcome for e in entries],
                [e.client_address for e in entries],
                [e.detail for e in entries],
            )

    async def read_audit_trail(
        self, customer_id: CustomerId, first: int, before_id: int | None
    ) -> AuditTrailPage:
        """Up to ``first`` entries about ``customer_id`` older than ``before_id``, newest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_AUDIT_TRAIL, customer_id, before_id, first + 1)
        entries = tuple(
            RecordedAuditEntry(
                id=row["id"],
                entry=AuditEntry(
                    kind=row["kind"],
                    subject=row["subject"],
                    role=row["role"],
                    outcome=row["outcome"],
                    customer_id=CustomerId(row["customer_id"]),
                    interaction_id=row["interaction_id"],
                    request_id=row["request_id"],
                    fields=tuple(row["fields"]),
                    masked=row["masked"],
                    purpose=row["purpose"],
                    client_address=row["client_address"],
                    detail=row["detail"],
                    at=row["at"],
                ),
            )
            for row in rows[:first]
        )
        return AuditTrailPage(entries=entries, has_more=len(rows) > first)

    async def prune(self, cutoff: datetime) -> int:
        """Delete the entries older than ``cutoff`` (at least a day ago); return how many."""
        async with self._pool.acquire() as conn:
            removed: int = await conn.fetchval(_PRUNE_AUDIT_TRAIL, cutoff)
        return removed
