"""The whole-response cache: a repeated view answered without running the query again.

Keyed by what decides the answer and what the caller may see of it: the operation's text
(after persisted queries are resolved), its name and variables, the principal's role, the
verified interaction's customer and level (and whether the principal is its agent), the
stated purpose and the tenant the request acts for (``app.tenancy``). Two callers share an
entry only when all of that is equal, so a masked answer is never handed
to whoever may see it whole, nor the other way round (``disclosure_key``).

Only a query whose root fields are customer views (``KEPT_ROOTS``) is kept, for a role in
``roles`` (agents by default), and only a whole answer: no error, every panel read fresh
(``app.cache.read_log``), at least one read. It is kept until the first panel read behind
it would stop being fresh (at most ``max_seconds``), and is dropped as soon as a record it
read changes (each record's generation in the response cache, bumped by webhooks, writes
and every other ``invalidate_record``) or any link does (``links_changed``: supervisors'
decisions and live linking bump one generation): both are read from the response cache's
tier, so with Redis every process sees them. Answers are kept in process first, in a
bounded least-recently-used map (``LocalTier``), and, when the response cache has Redis
(``SCV_CACHE__URL``), in Redis too (sealed as its entries are, for as long as the local
copy lives), so that every instance serves what one has built; an answer found there is
checked against the generations as a local one is, so an invalidation on any instance is
honoured by all.

Every hit is charged to its reader's cost budget as much as its execution was (a refusal
is answered as ``GuardCost`` answers it), then writes the audit entries its execution
wrote, as this caller's (subject, interaction, request, address), before it is served; if
they cannot be written, the query is executed instead, where the audit fails closed as
always. Panel meta is made true at the moment of serving: ``cache`` HIT and ``stale`` false
(every read behind it is still fresh), ``ageSeconds`` the age now.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from strawberry.types import ExecutionResult

from app.cache.local import LocalTier
from app.cache.read_log import ReadLog, read_log
from app.cache.tiers import KEY_PREFIX, CacheTier
from app.limits.checks import CostNote, noted_cost
from app.limits.refusal import QueryRefused
from app.whole_response.kept import Kept, MetaPath, from_bytes, to_bytes
from app.whole_response.metrics import (
    AUDIT_FAILED,
    HIT,
    INVALIDATED,
    KEPT,
    MISS,
    SHARED,
    WholeResponseMetrics,
)
from app.whole_response.settings import WholeResponseSettings
from kernel.access import AuditEntry
from kernel.identity import CustomerId
from resolvers.context import RequestContext
from resolvers.extensions.audit import audit_entries
from resolvers.types.common import served_meta

logger = logging.getLogger(__name__)

#: Root fields whose answers may be kept: one customer's view. Nothing else (an audit
#: trail, an interaction's state, an analysts' page) is worth the risk of reuse.
KEPT_ROOTS = frozenset({"customer", "customerByEmail", "customerByPhone"})
#: The generation every link change bumps (in the response cache's tier).
LINKS_GENERATION = f"{KEY_PREFIX}:links:gen"
#: Kept far longer than any entry lives: were it to expire (and restart at 0) while an entry
#: read under 0 lived, that entry could be served after a link changed.
LINKS_GENERATION_TTL = 86_400.0
#: Where a kept answer is shared (in Redis), after its disclosure key.
SHARED_PREFIX = f"{KEY_PREFIX}:answer:"
#: Operations whose kind and root fields are remembered.
REMEMBERED_DOCUMENTS = 512

#: Charges (role, subject, cost) to the budget: the refusal when it is spent.
Charge = Callable[[str, str, int], Awaitable[QueryRefused | None]]


@dataclass(slots=True)
class Filling:
    """What a request whose answer may be kept notes while it executes."""

    reads: ReadLog
    meta: list[tuple[MetaPath, str]]
    links_generation: int
    cost: CostNote = dataclasses.field(default_factory=CostNote)


def disclosure_key(
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    ctx: Any,
    rollout: str = "",
) -> str:
    """The key of an answer: the operation and everything deciding what the caller sees
    (``rollout``: which sources' panels are served to the caller, in which mode)."""
    interaction = ctx.interaction
    principal = ctx.principal
    parts = [
        # First: one tenant's answer is never another's, whatever else is equal.
        str(getattr(ctx, "tenant", None) or ""),
        query,
        operation_name or "",
        orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode(),
        principal.role,
        "" if interaction is None else str(interaction.customer_id),
        "" if interaction is None else interaction.level.name,
        "" if interaction is None else str(interaction.agent == principal.subject),
        ctx.purpose or "",
        rollout,
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def shared_key(key: str) -> str:
    """Where the answer of disclosure key ``key`` is shared (``disclosure_key`` made it)."""
    return SHARED_PREFIX + key


@functools.lru_cache(maxsize=REMEMBERED_DOCUMENTS)
def keepable(query: str, operation_name: str | None) -> bool:
    """Whether the operation is a query of customer views only (parsed once per text)."""
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
        return False
    selections = chosen[0].selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in KEPT_ROOTS for s in selections)


class WholeResponseCache:
    """Answers kept per disclosure (see the module docstring)."""

    def __init__(
        self,
        settings: WholeResponseSettings,
        tier: CacheTier,
        metrics: WholeResponseMetrics,
        *,
        clock: Any = time.time,
    ) -> None:
        self._settings = settings
        self._tier = tier
        self._metrics = metrics
        self._clock = clock
        self._kept = LocalTier(settings.max_entries, settings.max_seconds)

    async def key_for(
        self,
        query: str | None,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        context: RequestContext,
    ) -> str | None:
        """The answer's key, or None when this request's answer is never kept."""
        if not self._settings.enabled or context.principal.role not in self._settings.roles:
            return None
        # A query or operation name that is no string (a JSON object or list): never kept,
        # and refused as the client's mistake further on (app/http/protocol.py).
        if not isinstance(query, str) or not query:
            return None
        if operation_name is not None and not isinstance(operation_name, str):
            return None
        if not keepable(query, operation_name):
            return None
        rollout = await context.rollout.served_to(context.principal)
        return disclosure_key(query, operation_name, variables, context, rollout)

    async def reuse(
        self, key: str, context: RequestContext, charge: Charge
    ) -> dict[str, Any] | QueryRefused | None:
        """The kept answer's data, charged to this caller's budget (or its refusal) and
        audited as this caller's; None: execute the query."""
        kept = self._kept.get(key)
        if not isinstance(kept, Kept):
            kept = await self._shared(key) if self._tier.shares else None
        if kept is None:
            self._metrics.count(MISS)
            return None
        if not await self._still_true(kept):
            self._kept.drop_prefix(key)
            self._metrics.count(INVALIDATED)
            return None
        principal = context.principal
        refused = await charge(principal.role, principal.subject, kept.cost)
        if refused is not None:
            return refused
        if kept.audit and context.audit is not None:
            try:
                await context.audit.record([_as_caller(entry, context) for entry in kept.audit])
            except Exception as exc:
                # Executed instead, which withholds personal values if the trail is still down.
                logger.warning(
                    "audit trail not written for a kept answer; executing instead",
                    extra={"error_type": type(exc).__name__},
                )
                self._metrics.count(AUDIT_FAILED)
                return None
        self._metrics.count(HIT)
        return self._served_now(kept)

    @contextmanager
    def filling(self, links_generation: int) -> Iterator[Filling]:
        """Note, while the query executes, what keeping its answer needs."""
        filling = Filling(ReadLog(), [], links_generation)
        reads_token = read_log.set(filling.reads)
        meta_token = served_meta.set(filling.meta)
        cost_token = noted_cost.set(filling.cost)
        try:
            yield filling
        finally:
            noted_cost.reset(cost_token)
            served_meta.reset(meta_token)
            read_log.reset(reads_token)

    async def links_generation(self) -> int:
        """The generation of links now (read before executing, so a change during the
        execution leaves the answer under an old one)."""
        return await self._tier.generation(LINKS_GENERATION)

    async def keep(
        self, key: str, filling: Filling, result: ExecutionResult, context: RequestContext
    ) -> None:
        """Keep ``result`` if it is whole and every read behind it fresh."""
        reads = filling.reads
        if result.errors or result.data is None or reads.stale or not reads.generations:
            return
        lifetime = min(reads.fresh_seconds, self._settings.max_seconds)
        if lifetime <= 0:
            return
        meta = tuple((path, name, _value_at(result.data, path)) for path, name in filling.meta)
        kept = Kept(
            data=orjson.dumps(result.data),
            built_at=self._clock(),
            generations=tuple(reads.generations.items()),
            links_generation=filling.links_generation,
            meta=meta,
            audit=tuple(audit_entries(context)),
            cost=filling.cost.cost,
        )
        self._kept.put(key, kept, lifetime)
        self._metrics.count(KEPT)
        if not self._tier.shares:
            return
        await self._tier.set_shared(
            shared_key(key), to_bytes(kept, kept.built_at + lifetime), lifetime
        )

    async def links_changed(self, customers: Sequence[CustomerId]) -> None:
        """Links of ``customers`` changed: no answer kept before is served again (any
        customer's: an answer by email or phone may now be another customer's)."""
        await self._tier.bump_generation(LINKS_GENERATION, LINKS_GENERATION_TTL, LINKS_GENERATION)

    def clear(self) -> None:
        """Forget every kept answer (tests, and an operator who wants a cold cache)."""
        self._kept.clear()

    async def _shared(self, key: str) -> Kept | None:
        """The answer another process (or this one) shared under ``key``, kept locally
        for what is left of its lifetime; None when there is none (or no Redis)."""
        blob = await self._tier.get_shared(shared_key(key))
        found = None if blob is None else from_bytes(blob)
        if found is None:
            return None
        kept, expires_at = found
        left = expires_at - self._clock()
        if left <= 0:
            return None
        self._kept.put(key, kept, left)
        self._metrics.count(SHARED)
        return kept

    async def _still_true(self, kept: Kept) -> bool:
        if await self._tier.generation(LINKS_GENERATION) != kept.links_generation:
            return False
        for key, generation in kept.generations:
            if await self._tier.generation(key) != generation:
                return False
        return True

    def _served_now(self, kept: Kept) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(kept.data)
        elapsed = max(0.0, self._clock() - kept.built_at)
        for path, name, built in kept.meta:
            if name == "cache":
                now: Any = "HIT"
            elif name == "stale":
                now = False
            else:
                now = float(built) + elapsed
            _set_at(data, path, now)
        return data


def _as_caller(entry: AuditEntry, context: RequestContext) -> AuditEntry:
    """``entry`` as written for this request's principal (the rest is the same by key)."""
    interaction = context.interaction
    return dataclasses.replace(
        entry,
        subject=context.principal.subject,
        role=context.principal.role,
        interaction_id=interaction.interaction_id if interaction else None,
        request_id=context.request_id,
        purpose=context.purpose,
        client_address=context.client_address,
        tenant=context.tenant,
        at=None,
    )


def _value_at(data: Any, path: MetaPath) -> Any:
    node = data
    for step in path:
        node = node[step]
    return node


def _set_at(data: Any, path: MetaPath, value: Any) -> None:
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
