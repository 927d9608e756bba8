"""What every resolver can reach: who is asking, the store, the sources, per-request loaders.

The app builds one ``RequestContext`` per GraphQL request (``new_context``); resolvers read it
from ``info.context``. Nothing here imports ``httpx`` or ``asyncpg``: systems are reached
through their ports (``adapters/<source>/port.py``), the store through ``IdentityStore``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from adapters.billing.port import PORT as BILLING
from adapters.billing.port import BillingAdapter
from adapters.crm.port import PORT as CRM
from adapters.crm.port import CrmAdapter
from adapters.ivr.port import PORT as IVR
from adapters.ivr.port import IvrAdapter
from adapters.support.port import PORT as SUPPORT
from adapters.support.port import SupportAdapter
from kernel.access import ActiveInteraction, AuditReader, AuditSink, Principal
from kernel.customer_facts import CustomerFactsReader
from kernel.data_quality import DataQualityReader
from kernel.disclosure import DisclosureLedger
from kernel.exports import ExportJobs
from kernel.identity import IdentityStore
from kernel.identity_evidence import IdentityEvidence
from kernel.integration_kpis import IntegrationKpiReader
from kernel.interactions import InteractionService
from kernel.linking import IdentityDecisions, LiveLinker
from kernel.live import LiveFeed
from kernel.models import Source
from kernel.ports import SourcePort
from kernel.rollout import RolloutGate
from kernel.tenancy import TenantBoundary, TenantId
from kernel.writes import WriteService
from resolvers.loaders import DEFAULT_PANEL_CONCURRENCY, IdentityEvidenceLoaders, Loaders
from resolvers.rollout import RequestRollout

PortT = TypeVar("PortT")


@dataclass(frozen=True, slots=True)
class Sources:
    """Every registered source's adapter, by source (real, cached or fake: resolvers cannot
    tell); one value per set of adapters, so a tenant's are a ``Sources`` of their own.

    A panel reaches its source with ``port``: given the source's ``PORT`` key
    (``adapters/<source>/port.py``) the adapter comes typed as its port; given a bare
    ``Source`` (code that iterates the registry), as an ``object``.
    """

    by_source: Mapping[Source, object]

    @overload
    def port(self, key: SourcePort[PortT]) -> PortT: ...

    @overload
    def port(self, key: Source) -> object: ...

    def port(self, key: SourcePort[Any] | Source) -> object:
        """The adapter of ``key``'s source; ``LookupError`` when this set has none."""
        source = key.source if isinstance(key, SourcePort) else key
        found = self.by_source.get(source)
        if found is None:
            raise LookupError(f"no adapter for the source {source.value}")
        return found

    def __contains__(self, source: object) -> bool:
        """Whether this set has an adapter of ``source``."""
        return source in self.by_source

    @classmethod
    def from_adapters(cls, adapters: Mapping[Source, object]) -> Sources:
        """The registry's adapters (``app.wiring.sources.build_adapters``), by source."""
        return cls(by_source=dict(adapters))

    # The analysts' read model (``app/analytics``) still takes these four by name; nothing
    # else may (docs/architecture.md): they go when it reads ``port`` too.

    @property
    def billing(self) -> BillingAdapter:
        """Billing's adapter, for ``app/analytics`` only."""
        return self.port(BILLING)

    @property
    def crm(self) -> CrmAdapter:
        """The CRM's adapter, for ``app/analytics`` only."""
        return self.port(CRM)

    @property
    def support(self) -> SupportAdapter:
        """Support's adapter, for ``app/analytics`` only."""
        return self.port(SUPPORT)

    @property
    def ivr(self) -> IvrAdapter:
        """The IVR's adapter, for ``app/analytics`` only."""
        return self.port(IVR)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The context of one GraphQL request."""

    principal: Principal
    store: IdentityStore
    sources: Sources
    loaders: Loaders
    #: ISO region for phone numbers given without a country code.
    default_region: str
    #: The verified interaction this request acts within (``X-Interaction-Token``), if any.
    interaction: ActiveInteraction | None = None
    #: A supervisor's stated purpose for reading personal data (audited), if any.
    purpose: str | None = None
    #: Where reads of personal data are recorded; None only in resolver unit tests.
    audit: AuditSink | None = None
    request_id: str | None = None
    client_address: str | None = None
    #: Reads the audit trail back (``auditTrail``); None only in resolver unit tests.
    audit_trail: AuditReader | None = None
    #: Which personal fields of whom this request served, and how: written to the audit.
    disclosures: DisclosureLedger = field(default_factory=DisclosureLedger)
    #: Claims, transfers and knowledge checks of interactions; None where not wired.
    interactions: InteractionService | None = None
    #: Searches the systems when a lookup finds nothing in the store; None: no live linking.
    live_linker: LiveLinker[Sources] | None = None
    #: Supervisors' link / unlink decisions; None where not wired.
    identity_decisions: IdentityDecisions | None = None
    #: The analysts' read model (``customers``, ``Customer.facts``); None where not wired.
    facts: CustomerFactsReader | None = None
    #: Analysts' export jobs (``startExport``, ``exportStatus``); None where not wired.
    exports: ExportJobs | None = None
    #: The store's identity evidence (contact points, conflicts, duplicates), batched per
    #: request; None where not wired.
    evidence: IdentityEvidenceLoaders | None = None
    #: Builds the data-quality report (``dataQuality``); None where not wired.
    data_quality: DataQualityReader | None = None
    #: Live changes for subscriptions; None where not wired (subscriptions are refused).
    live: LiveFeed | None = None
    #: When the bearer token expires (epoch seconds): a subscription ends then.
    token_expires_at: float | None = None
    #: Writes to the systems of record (the mutations, ``writeStatus``); None where not wired.
    writes: WriteService | None = None
    #: The sources' rollout as this request sees it (every source ON where not wired).
    rollout: RequestRollout = field(default_factory=RequestRollout)
    #: Changes the sources' rollout (``setSourceRollout``); None where not wired.
    rollout_gate: RolloutGate | None = None
    #: The integration KPIs (``integrationKpis``); None where not wired.
    kpis: IntegrationKpiReader | None = None
    #: The tenant this request acts for (``app.tenancy``); None only for a platform
    #: operator's request naming none, and in resolver unit tests.
    tenant: TenantId | None = None
    #: Whether a key this tenant does not know names another tenant's customer (for the
    #: audit of the attempt); None where not wired.
    boundary: TenantBoundary | None = None


def new_context(
    principal: Principal,
    store: IdentityStore,
    sources: Sources,
    default_region: str,
    *,
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
    audit: AuditSink | None = None,
    request_id: str | None = None,
    client_address: str | None = None,
    interactions: InteractionService | None = None,
    live_linker: LiveLinker[Sources] | None = None,
    identity_decisions: IdentityDecisions | None = None,
    facts: CustomerFactsReader | None = None,
    panel_concurrency: int = DEFAULT_PANEL_CONCURRENCY,
    exports: ExportJobs | None = None,
    audit_trail: AuditReader | None = None,
    evidence: IdentityEvidence | None = None,
    data_quality: DataQualityReader | None = None,
    live: LiveFeed | None = None,
    token_expires_at: float | None = None,
    writes: WriteService | None = None,
    rollout: RolloutGate | None = None,
    kpis: IntegrationKpiReader | None = None,
    tenant: TenantId | None = None,
    boundary: TenantBoundary | None = None,
) -> RequestContext:
    """A context with fresh DataLoaders: loaders never outlive the request they batch for."""
    loaders = Loaders(
        store=store,
        sources=sources.by_source,
        facts=facts,
        panel_concurrency=panel_concurrency,
    )
    return RequestContext(
        principal=principal,
        store=store,
        sources=sources,
        loaders=loaders,
        default_region=default_region,
        interaction=interaction,
        purpose=purpose,
        audit=audit,
        request_id=request_id,
        client_address=client_address,
        interactions=interactions,
        live_linker=live_linker,
        identity_decisions=identity_decisions,
        facts=facts,
        exports=exports,
        audit_trail=audit_trail,
        evidence=IdentityEvidenceLoaders(evidence) if evidence is not None else None,
        data_quality=data_quality,
        live=live,
        token_expires_at=token_expires_at,
        writes=writes,
        rollout=RequestRollout(rollout),
        rollout_gate=rollout,
        kpis=kpis,
        tenant=tenant,
        boundary=boundary,
    )
