"""The write service (``kernel.writes.WriteService``): a mutation checked, kept and tried.

In order: who asks (``access``), the input (``validation``), the records it names (the
customer's link in the fact's system, a ticket or subscription being the customer's), a
version check where the source has one, the audit (fail-closed: a write that cannot be
audited is not made), then the idempotency key: a new key's write is kept in the outbox
and tried at once; a known key answers its write's outcome without a second try, and is
refused if its input differs. A system that is down leaves the write PENDING for the
outbox's workers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping

from adapters.registry import writer_of
from app.store.writes import NewWrite, WriteRow, WriteStore
from app.tenancy.audit import TenantAuditSink
from app.writes.access import SUPERVISOR, authorize
from app.writes.delivery import Delivery
from app.writes.metrics import WriteMetrics
from app.writes.settings import WritesSettings
from app.writes.validation import checked_values
from kernel.access import AuditEntry, AuditSink, AuditUnavailable
from kernel.client_errors import GatewayError, PersonalDataWithheld
from kernel.errors import UpstreamError, UpstreamUnavailable
from kernel.identity import CustomerId, IdentityStore
from kernel.models import Source
from kernel.tenancy import TenantId
from kernel.writes import (
    IdempotencyKeyReused,
    RecordChanged,
    SourceWrite,
    WriteActor,
    WriteCommand,
    WriteConflict,
    WriteFieldInvalid,
    WriteKind,
    WriteOutcome,
    WriteRequest,
    WriteStatus,
)

logger = logging.getLogger(__name__)

#: Kinds that name a record of their source rather than write to the customer's own.
_NAMING_A_RECORD = frozenset({WriteKind.TICKET_COMMENT, WriteKind.SUBSCRIPTION_CANCEL})
_RECORD_ARGUMENT = {
    WriteKind.TICKET_COMMENT: "ticketId",
    WriteKind.SUBSCRIPTION_CANCEL: "subscriptionId",
}


class Writes:
    """Accepts writes for the graph's mutations and reports on them (``writeStatus``)."""

    def __init__(
        self,
        store: WriteStore,
        identities: IdentityStore,
        delivery: Delivery,
        settings: WritesSettings,
        metrics: WriteMetrics,
        audit: AuditSink,
        *,
        default_region: str,
        record_nouns: Mapping[Source, str],
    ) -> None:
        self._store = store
        self._identities = identities
        self._delivery = delivery
        self._settings = settings
        self._metrics = metrics
        self._audit = audit
        self._default_region = default_region
        self._nouns = record_nouns

    def for_tenant(self, store: WriteStore, identities: IdentityStore, tenant: TenantId) -> Writes:
        """The same service over another tenant's writes and customers (its idempotency
        keys, its writes' status, its sources), its entries on that tenant's trail; the
        outbox delivers every tenant's, each through its own tenant's sources."""
        return Writes(
            store,
            identities,
            self._delivery,
            self._settings,
            self._metrics,
            TenantAuditSink(self._audit, tenant),
            default_region=self._default_region,
            record_nouns=self._nouns,
        )

    async def submit(self, actor: WriteActor, request: WriteRequest) -> WriteOutcome:
        """See ``kernel.writes.WriteService.submit``."""
        kind = request.kind
        try:
            outcome = await self._submit(actor, request)
        except GatewayError as refusal:
            self._metrics.mutations.labels(kind.value, "REFUSED").inc()
            await self._audit_refusal(actor, request, refusal)
            raise
        return outcome

    async def status(self, actor: WriteActor, write_id: str) -> WriteOutcome | None:
        """See ``kernel.writes.WriteService.status``: the principal's own writes only, and
        every write for supervisors (the same None for unknown and another's)."""
        row = await self._store.get(write_id)
        if row is None:
            return None
        if row.principal != actor.principal.subject and actor.principal.role != SUPERVISOR:
            return None
        return outcome_of(row)

    async def _submit(self, actor: WriteActor, request: WriteRequest) -> WriteOutcome:
        kind = request.kind
        source, write = writer_of(kind)
        customer_id = authorize(actor, kind, request.customer_id, self._settings)
        values, fields = checked_values(request, self._settings, self._default_region)
        owner = await self._owner(customer_id, source, kind)
        target = owner
        if kind in _NAMING_A_RECORD:
            target = (request.record_id or "").strip()
            await self._check_owned(write, source, owner, target, _RECORD_ARGUMENT[kind])
        vendor_key = derived_key(actor.principal.subject, request.idempotency_key)
        command = WriteCommand(kind, target, values, vendor_key, request.expected_version)
        await self._check_version(write, source, command)
        await self._audit_accepted(actor, request, customer_id, fields)
        new = NewWrite(
            principal=actor.principal.subject,
            principal_role=actor.principal.role,
            idempotency_key=request.idempotency_key,
            input_hash=input_hash(kind, customer_id, target, values, request.expected_version),
            kind=kind.value,
            source=source.value,
            customer_id=customer_id,
            target_record_id=target,
            input={"values": values, "owner": owner},
            fields=fields,
            expected_version=request.expected_version,
            vendor_key=vendor_key,
            interaction_id=actor.interaction.interaction_id if actor.interaction else None,
        )
        row, created = await self._store.accept(new, self._settings.lease_seconds)
        if not created:
            if row.input_hash != new.input_hash or row.kind != new.kind:
                raise IdempotencyKeyReused(
                    "this idempotency key was used with other input; nothing was written"
                )
            self._metrics.mutations.labels(kind.value, "REPLAYED").inc()
            return outcome_of(row)
        tried = await self._delivery.attempt(row)
        if tried.conflict is not None:
            # Changed between the check above and the try: refused all the same.
            raise WriteConflict(tried.conflict)
        self._metrics.mutations.labels(kind.value, tried.status.value).inc()
        latest = await self._store.get(row.id)
        return outcome_of(latest or row)

    async def _owner(self, customer_id: CustomerId, source: Source, kind: WriteKind) -> str:
        """The customer's record in the fact's system; BAD_USER_INPUT if there is none."""
        found = (await self._identities.get_customers([customer_id])).get(customer_id)
        if found is None:
            raise WriteFieldInvalid("customerId", "no such customer")
        link = found.link_for(source)
        if link is None:
            noun = self._nouns.get(source, source.value)
            raise WriteFieldInvalid("customerId", f"the customer has no {noun} to write to")
        return link.external_id

    def _adapter(self, source: Source) -> object:
        """This tenant's adapter of ``source`` (looked up at each use: a tenant's sources
        may be replaced while the gateway runs)."""
        adapter = self._delivery.sources_for(self._store.tenant).get(source)
        if adapter is None:
            raise UpstreamUnavailable(source, "this tenant has no such source configured")
        return adapter

    async def _check_owned(
        self, write: SourceWrite, source: Source, owner: str, record_id: str, argument: str
    ) -> None:
        if not record_id:
            raise WriteFieldInvalid(argument, "must not be empty")
        if write.owns is None:
            return
        try:
            owned = await write.owns(self._adapter(source), owner, record_id)
        except UpstreamUnavailable:
            # The outbox checks again before it writes: a system that is down must not cost
            # the agent the write.
            return
        except UpstreamError:
            owned = False
        if not owned:
            raise WriteFieldInvalid(argument, "no such record of this customer")

    async def _check_version(
        self, write: SourceWrite, source: Source, command: WriteCommand
    ) -> None:
        """A version check before anything is kept: a stale form is refused at once, the
        same way on every retry of its key. The write itself checks again."""
        if write.check is None:
            return
        try:
            await write.check(self._adapter(source), command)
        except RecordChanged as changed:
            raise WriteConflict(changed) from changed
        except UpstreamUnavailable:
            return
        except UpstreamError as exc:
            raise WriteFieldInvalid(
                "customerId", f"its record cannot be read ({exc.code})"
            ) from exc

    async def _audit_accepted(
        self,
        actor: WriteActor,
        request: WriteRequest,
        customer_id: CustomerId,
        fields: tuple[str, ...],
    ) -> None:
        try:
            await self._audit.record([_entry(actor, request, customer_id, fields, "ACCEPTED")])
        except AuditUnavailable as exc:
            raise PersonalDataWithheld(
                "the audit trail cannot be written, so nothing was written"
            ) from exc

    async def _audit_refusal(
        self, actor: WriteActor, request: WriteRequest, refusal: GatewayError
    ) -> None:
        customer_id = request.customer_id or (
            actor.interaction.customer_id if actor.interaction else None
        )
        entry = _entry(actor, request, customer_id, (), f"REFUSED: {refusal.code}")
        try:
            await self._audit.record([entry])
        except AuditUnavailable:
            logger.warning("a refused write could not be audited")


def _entry(
    actor: WriteActor,
    request: WriteRequest,
    customer_id: CustomerId | None,
    fields: tuple[str, ...],
    outcome: str,
) -> AuditEntry:
    return AuditEntry(
        kind="WRITE",
        subject=actor.principal.subject,
        role=actor.principal.role,
        outcome=outcome,
        customer_id=customer_id,
        interaction_id=actor.interaction.interaction_id if actor.interaction else None,
        request_id=actor.request_id,
        fields=fields,
        client_address=actor.client_address,
        detail=request.kind.value,
    )


def derived_key(principal: str, key: str) -> str:
    """The key forwarded to vendors: the client's, per principal, and no longer than
    Stripe's 255 characters; the same on every retry of the client's key."""
    digest = hashlib.sha256(f"{principal}\x1f{key}".encode()).hexdigest()
    return f"scv-{digest[:40]}"


def input_hash(
    kind: WriteKind,
    customer_id: str,
    target: str,
    values: Mapping[str, object],
    expected_version: str | None,
) -> str:
    """What makes two uses of a key the same write."""
    canonical = json.dumps(
        [kind.value, customer_id, target, dict(values), expected_version], sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def outcome_of(row: WriteRow) -> WriteOutcome:
    """A row as the client sees it."""
    status = WriteStatus(row.status)
    return WriteOutcome(
        id=row.id,
        kind=WriteKind(row.kind),
        status=status,
        source=Source(row.source),
        target_record_id=row.target_record_id,
        record_id=row.record_id,
        reason=row.reason if status is not WriteStatus.APPLIED else None,
        attempts=row.attempts,
        created_at=row.created_at,
        applied_at=row.finished_at if status is WriteStatus.APPLIED else None,
    )
