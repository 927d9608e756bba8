"""The whole-response cache's rules: keys by disclosure, audited hits, invalidation, meta.

The cache's collaborators are real (the response cache's in-process tier, the disclosure
ledger, the audit entries the resolvers make); the audit sink records what it is given, or
fails, as the boundary under test.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from strawberry.types import ExecutionResult

from app.cache.read_log import ReadLog
from app.cache.tiers import MemoryTier
from app.limits.refusal import QueryRefused
from app.whole_response.cache import (
    Filling,
    WholeResponseCache,
    disclosure_key,
    keepable,
)
from app.whole_response.metrics import WholeResponseMetrics
from app.whole_response.settings import WholeResponseSettings
from kernel.access import ActiveInteraction, AuditEntry, Principal, VerificationLevel
from kernel.disclosure import DisclosureLedger
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout
from kernel.tenancy import TenantId
from resolvers.context import RequestContext
from resolvers.extensions.masking import decide_access
from resolvers.rollout import RequestRollout
from tests.fakes import ManualClock

QUERY = "query V($email: String!) { customerByEmail(email: $email) { id } }"
VARIABLES = {"email": "ada@example.com"}
ADA = CustomerId("cust-ada")
CUSTOMERS = [ADA, CustomerId("cust-bob"), CustomerId("cust-cy")]
DATA = {
    "customerByEmail": {
        "id": "cust-ada",
        "billing": {"meta": {"cache": "MISS", "stale": False, "ageSeconds": 0.5}},
    }
}
META = [
    (("customerByEmail", "billing", "meta", "cache"), "cache"),
    (("customerByEmail", "billing", "meta", "stale"), "stale"),
    (("customerByEmail", "billing", "meta", "ageSeconds"), "ageSeconds"),
]


async def free(role: str, subject: str, cost: int) -> QueryRefused | None:
    return None


ACME = TenantId("acme")


class Trail:
    """An audit sink that keeps what it is given, or fails when told to."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.down = False

    async def record(self, entries: list[AuditEntry]) -> None:
        if self.down:
            raise ConnectionError("audit trail down")
        self.entries.extend(entries)


def context(
    subject: str = "agent-1",
    role: str = "agent",
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
    audit: Trail | None = None,
    request_id: str = "req-1",
    rollout: RequestRollout | None = None,
    tenant: TenantId | None = ACME,
) -> RequestContext:
    ledger = DisclosureLedger()
    ledger.served(ADA, "Profile.email", ("customerByEmail", "profile", "email"), masked=True)
    return cast(
        RequestContext,
        SimpleNamespace(
            principal=Principal(subject, role),
            interaction=interaction,
            purpose=purpose,
            audit=audit,
            request_id=request_id,
            client_address="10.0.0.1",
            disclosures=ledger,
            rollout=rollout or RequestRollout(),
            tenant=tenant,
        ),
    )


@pytest.fixture
def tier() -> MemoryTier:
    return MemoryTier()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


@pytest.fixture
def cache(tier: MemoryTier, clock: ManualClock) -> WholeResponseCache:
    metrics = WholeResponseMetrics.create(CollectorRegistry())
    return WholeResponseCache(WholeResponseSettings(), tier, metrics, clock=clock)


def filled(
    generations: dict[str, int] | None = None, *, stale: bool = False, fresh: float = 30.0
) -> Filling:
    reads = ReadLog()
    for key, generation in (generations or {"rec:gen": 0}).items():
        reads.read(key, generation)
    reads.fresh_for(fresh)
    reads.stale = stale
    return Filling(reads, list(META), 0)


def result(data: dict[str, Any] | None = None) -> ExecutionResult:
    import copy

    return ExecutionResult(data=copy.deepcopy(data or DATA), errors=None)


async def kept_for(cache: WholeResponseCache, ctx: RequestContext, filling: Filling) -> str:
    key = await cache.key_for(QUERY, "V", VARIABLES, ctx)
    assert key is not None
    await cache.keep(key, filling, result(), ctx)
    return key


async def test_a_hit_is_audited_as_its_caller_and_its_meta_is_true_now(
    cache: WholeResponseCache, clock: ManualClock
) -> None:
    key = await kept_for(cache, context(), filled())
    trail = Trail()
    clock.advance(4)
    data = await cache.reuse(key, context("agent-2", audit=trail, request_id="req-2"), free)
    assert isinstance(data, dict)
    meta = data["customerByEmail"]["billing"]["meta"]
    assert meta == {"cache": "HIT", "stale": False, "ageSeconds": 4.5}
    [entry] = trail.entries
    assert (entry.kind, entry.subject, entry.request_id, entry.customer_id) == (
        "READ",
        "agent-2",
        "req-2",
        ADA,
    )
    assert (entry.fields, entry.masked) == (("Profile.email",), True)


async def test_a_hit_is_charged_to_its_reader_and_refused_unaudited_when_spent(
    cache: WholeResponseCache,
) -> None:
    filling = filled()
    filling.cost.cost = 34
    key = await kept_for(cache, context(), filling)
    charged: list[tuple[str, str, int]] = []

    async def spent(role: str, subject: str, cost: int) -> QueryRefused | None:
        charged.append((role, subject, cost))
        return QueryRefused("RATE_LIMITED", "spent", limit=100, measured=cost, retryAfter=2)

    trail = Trail()
    refused = await cache.reuse(key, context("agent-2", audit=trail), spent)
    assert isinstance(refused, QueryRefused)
    assert (charged, trail.entries) == ([("agent", "agent-2", 34)], [])


async def test_without_an_audit_entry_written_there_is_no_hit(cache: WholeResponseCache) -> None:
    key = await kept_for(cache, context(), filled())
    trail = Trail()
    trail.down = True
    assert await cache.reuse(key, context(audit=trail), free) is None


async def test_a_record_changed_since_is_never_served_from_the_older_entry(
    cache: WholeResponseCache, tier: MemoryTier
) -> None:
    key = await kept_for(cache, context(), filled({"rec:gen": 0}))
    await tier.bump_generation("rec:gen", 60, "rec:")
    assert await cache.reuse(key, context(audit=Trail()), free) is None
    # Nor later: the entry is gone, not only skipped.
    await tier.bump_generation("rec:gen", 60, "rec:")
    assert await cache.reuse(key, context(audit=Trail()), free) is None


async def test_a_link_change_retires_every_answer(cache: WholeResponseCache) -> None:
    key = await kept_for(cache, context(), filled())
    await cache.links_changed([ADA])
    assert await cache.reuse(key, context(audit=Trail()), free) is None


@pytest.mark.parametrize(
    "filling",
    [filled(stale=True), filled(fresh=0), Filling(ReadLog(), [], 0)],
    ids=["a stale read", "no freshness left", "no read at all"],
)
async def test_answers_not_wholly_fresh_are_not_kept(
    cache: WholeResponseCache, filling: Filling
) -> None:
    key = await kept_for(cache, context(), filling)
    assert await cache.reuse(key, context(audit=Trail()), free) is None


async def test_an_answer_with_errors_is_not_kept(cache: WholeResponseCache) -> None:
    ctx = context()
    key = await cache.key_for(QUERY, "V", VARIABLES, ctx)
    assert key is not None
    partial = result()
    partial.errors = [Exception("billing down")]  # type: ignore[list-item]
    await cache.keep(key, filled(), partial, ctx)
    assert await cache.reuse(key, context(audit=Trail()), free) is None


def test_only_queries_of_customer_views_are_kept() -> None:
    assert keepable(QUERY, "V")
    assert not keepable("mutation { endInteraction(id: 1) { id } }", None)
    assert not keepable("{ auditTrail(customerId: 1) { events { kind } } }", None)
    assert not keepable("{ customer(id: 1) { id } auditTrail(customerId: 1) { cursor } }", None)
    assert not keepable("{ ...F } fragment F on Query { customer(id: 1) { id } }", None)
    assert not keepable("not graphql", None)


async def test_roles_outside_the_setting_are_never_kept(cache: WholeResponseCache) -> None:
    assert await cache.key_for(QUERY, "V", VARIABLES, context(role="analyst")) is None
    assert await cache.key_for(QUERY, "V", VARIABLES, context(role="agent")) is not None


# --- no hit crosses principals whose disclosure differs ------------------------------------

SUBJECTS = ["agent-1", "agent-2", "sup-1"]
principals = st.builds(
    Principal,
    subject=st.sampled_from(SUBJECTS),
    role=st.sampled_from(["agent", "supervisor", "analyst", "ivr"]),
)
interactions = st.none() | st.builds(
    ActiveInteraction,
    interaction_id=st.sampled_from(["i-1", "i-2"]),
    customer_id=st.sampled_from(CUSTOMERS),
    agent=st.sampled_from(SUBJECTS),
    level=st.sampled_from(list(VerificationLevel)),
)
callers = st.builds(
    lambda principal, interaction, purpose, tenant: cast(
        RequestContext,
        SimpleNamespace(
            principal=principal,
            interaction=interaction,
            purpose=purpose,
            rollout=RequestRollout(),
            tenant=tenant,
        ),
    ),
    principals,
    interactions,
    st.sampled_from([None, "fraud review", "complaint"]),
    st.sampled_from([TenantId("acme"), TenantId("globex")]),
)


@given(callers, callers)
def test_callers_sharing_a_key_see_every_customer_alike(
    first: RequestContext, second: RequestContext
) -> None:
    same_key = disclosure_key(QUERY, "V", VARIABLES, first) == disclosure_key(
        QUERY, "V", VARIABLES, second
    )
    if same_key:
        for customer in CUSTOMERS:
            assert decide_access(first, customer) == decide_access(second, customer)
        # What the trail says of the reader's purpose is theirs too.
        assert first.purpose == second.purpose
        # One tenant's answer never reaches another tenant's reader.
        assert first.tenant == second.tenant


@given(callers, callers)
async def test_a_kept_answer_reaches_only_callers_of_the_same_disclosure(
    first: RequestContext, second: RequestContext
) -> None:
    settings = WholeResponseSettings(roles=frozenset({"agent", "supervisor", "analyst", "ivr"}))
    metrics = WholeResponseMetrics.create(CollectorRegistry())
    cache = WholeResponseCache(settings, MemoryTier(), metrics)
    for ctx in (first, second):
        ctx.disclosures = DisclosureLedger()  # type: ignore[misc]
        ctx.audit = Trail()  # type: ignore[misc,assignment]
        ctx.request_id = None  # type: ignore[misc]
        ctx.client_address = None  # type: ignore[misc]
    key = await cache.key_for(QUERY, "V", VARIABLES, first)
    assert key is not None
    await cache.keep(key, filled(), result(), first)
    other = await cache.key_for(QUERY, "V", VARIABLES, second)
    assert other is not None
    if await cache.reuse(other, second, free) is not None:
        for customer in CUSTOMERS:
            assert decide_access(first, customer) == decide_access(second, customer)
        assert first.tenant == second.tenant


def test_the_roles_are_a_json_list_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import Settings

    monkeypatch.setenv("SCV_WHOLE_RESPONSE__ROLES", '["agent", "supervisor"]')
    monkeypatch.setenv("SCV_WHOLE_RESPONSE__MAX_SECONDS", "5")
    section = Settings().whole_response
    assert (section.roles, section.max_seconds) == (frozenset({"agent", "supervisor"}), 5)


class PilotGate:
    """Support in pilot for one agent; every other source on."""

    async def current(self) -> dict[Source, SourceRollout]:
        return {
            Source.SUPPORT: SourceRollout(
                Source.SUPPORT, RolloutMode.PILOT, pilot_subjects=frozenset({"agent-1"})
            )
        }

    def shadow(self, source: Source, compare: object) -> None:
        return None


async def test_a_pilot_cohorts_answer_is_never_served_outside_it(cache: WholeResponseCache) -> None:
    gate = cast(Any, PilotGate())
    in_cohort = context(subject="agent-1", rollout=RequestRollout(gate))
    outside = context(subject="agent-2", rollout=RequestRollout(gate))
    elsewhere_alike = context(subject="agent-3", rollout=RequestRollout(gate))

    key = await cache.key_for(QUERY, "V", VARIABLES, in_cohort)

    assert key != await cache.key_for(QUERY, "V", VARIABLES, outside)
    assert await cache.key_for(QUERY, "V", VARIABLES, outside) == await cache.key_for(
        QUERY, "V", VARIABLES, elsewhere_alike
    )
    # And a source's mode is part of the key: a change of mode retires what was kept.
    assert key != await cache.key_for(QUERY, "V", VARIABLES, context(subject="agent-1"))


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [({}, None), (["{ __typename }"], None), (42, None), (QUERY, {}), (QUERY, ["V"])],
)
async def test_a_query_or_operation_name_that_is_no_string_is_never_kept(
    cache: WholeResponseCache, query: object, operation_name: object
) -> None:
    # Refused as the client's mistake further on (400), never a 500 from the key (the
    # graphql-http audit sends an object and an array as operationName).
    key = await cache.key_for(cast(Any, query), cast(Any, operation_name), VARIABLES, context())
    assert key is None
