"""What every request of the GraphQL endpoint reads: the gateway's wiring (``GatewayState``), the
headers beside the bearer token, and an interaction token's check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.interactions.service import Interactions
from app.interactions.tokens import InteractionTokenError
from app.security.auth import TokenVerifier
from app.tenancy.settings import TenancySettings
from app.whole_response.cache import WholeResponseCache
from kernel.access import ActiveInteraction, AuditReader, AuditSink, Principal
from kernel.customer_facts import CustomerFactsReader
from kernel.data_quality import DataQualityReader
from kernel.exports import ExportJobs
from kernel.identity import IdentityStore
from kernel.identity_evidence import IdentityEvidence
from kernel.integration_kpis import IntegrationKpiReader
from kernel.linking import IdentityDecisions, LiveLinker
from kernel.live import LiveFeed
from kernel.rollout import RolloutGate
from kernel.tenancy import TenantBoundary, TenantId
from kernel.writes import WriteService
from resolvers.context import Sources
from resolvers.loaders import DEFAULT_PANEL_CONCURRENCY

#: The header in which a supervisor states why they read personal data (audited).
PURPOSE_HEADER = "x-purpose"

#: The header that carries an interaction grant's token, beside the bearer token.
INTERACTION_TOKEN_HEADER = "x-interaction-token"


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the lifespan builds once and every request reads: the wiring of the gateway."""

    store: IdentityStore
    sources: Sources
    verifier: TokenVerifier
    default_region: str
    #: IVR handoffs and agents' interactions (``X-Interaction-Token``); None where not wired.
    interactions: Interactions | None = None
    #: Lookups the store cannot answer search the systems live; None: no live linking.
    live_linker: LiveLinker[Sources] | None = None
    #: Supervisors' link / unlink decisions; None where not wired.
    identity_decisions: IdentityDecisions | None = None
    #: Where reads of personal data are recorded, and read back; None where not wired (then
    #: nothing is recorded: ``create_app`` always wires both).
    audit: AuditSink | None = None
    audit_trail: AuditReader | None = None
    #: The analysts' read model (``customers``); None where not wired.
    facts: CustomerFactsReader | None = None
    #: Most calls at once per request to a system without a batch read.
    panel_concurrency: int = DEFAULT_PANEL_CONCURRENCY
    #: Analysts' export jobs; None where not wired.
    exports: ExportJobs | None = None
    #: The store's identity evidence and the systems of record (contact, conflicts,
    #: possibleDuplicates); None where not wired.
    evidence: IdentityEvidence | None = None
    #: Builds the data-quality report (``dataQuality``); None where not wired.
    data_quality: DataQualityReader | None = None
    #: Live changes for subscriptions; None where not wired (subscriptions are refused).
    live: LiveFeed | None = None
    #: Writes to the systems of record (the mutations, ``writeStatus``); None where not wired.
    writes: WriteService | None = None
    #: The sources' rollout (modes, supervisors' changes, shadow reads); None: all ON.
    rollout: RolloutGate | None = None
    #: The integration KPIs; None where not wired.
    kpis: IntegrationKpiReader | None = None
    #: Answers kept per disclosure (``app.whole_response``); None: every query executes.
    whole_response: WholeResponseCache | None = None
    #: Other tenants' customers a missed lookup names (audited); None where not wired.
    boundary: TenantBoundary | None = None
    #: The tenants served, and the header a request names its own in.
    tenancy: TenancySettings = field(default_factory=TenancySettings)
    #: Each served tenant's own state: its store and what reads or writes it (its
    #: customers, interactions, decisions, audit trail, read model, writes); this state is
    #: the default tenant's. Empty where not wired: every tenant is served this one.
    by_tenant: Mapping[TenantId, GatewayState] = field(default_factory=dict)

    def for_tenant(self, tenant: TenantId | None) -> GatewayState:
        """The state a request of ``tenant`` is served from (this one for the platform's
        requests, which name no tenant, and where tenants are not wired)."""
        if tenant is None:
            return self
        return self.by_tenant.get(tenant, self)


async def authorise_interaction(
    state: GatewayState, token: str, principal: Principal
) -> ActiveInteraction:
    """The interaction ``token`` lets ``principal`` act within; ``InteractionTokenError``."""
    if state.interactions is None:
        raise InteractionTokenError("interactions are not enabled")
    return await state.interactions.authorise(token.strip(), principal)
