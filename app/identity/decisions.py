"""People's decisions about links: "not this person" (unlink) and "the same person" (link).

``IdentityDecisionService`` implements ``kernel.linking.IdentityDecisions``. A decision
is checked (the reason, the record, the customer) before anything changes; a refusal is a
``BadUserInput`` and changes nothing. An accepted one is one transaction in
``app.store.identity.IdentityDecisionStore``: the record (and its lookup keys) moves, the
decision is recorded with who made it and why, a customer left with no links is deleted.
The ``identity_decisions`` row is the durable record; the ``LINK_CHANGE`` audit entries
(one per customer touched, naming the decision, never the reason's text, which may quote a
person) follow it, and an audit outage is logged, not a reason to undo the decision.

The engine respects decisions afterwards: no rule links a record to a customer it was
unlinked from, and a sync never moves a link it did not make (nor any other).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.registry import spec_of
from app.identity.linking_metrics import LinkingMetrics
from app.identity.sync.records import new_customer_id, placeholder_name
from app.store.customers import Store
from app.store.identity import (
    DecisionOutcome,
    DecisionRefusal,
    IdentityDecisionStore,
    LinksChanged,
)
from kernel.access import AuditEntry, AuditSink
from kernel.client_errors import BadUserInput
from kernel.identity import CustomerId
from kernel.linking import Decider
from kernel.models import Source

__all__ = ["MAX_REASON_LENGTH", "IdentityDecisionService"]

logger = logging.getLogger(__name__)

#: As ``identity_decisions.reason`` allows: enough for a sentence or two, never a document.
MAX_REASON_LENGTH = 500
#: External ids are short vendor ids; anything longer is not one.
MAX_EXTERNAL_ID_LENGTH = 200

_REFUSALS: dict[DecisionRefusal, str] = {
    "unknown_record": "no customer has this record: it is unknown to the gateway",
    "unknown_customer": "there is no customer with this id",
    "not_linked_there": "this record is not linked to this customer",
    "only_link": "this record is the customer's only one: there is nothing to unlink it from",
}


class IdentityDecisionService:
    """Checks and applies supervisors' link / unlink decisions, and audits them."""

    def __init__(
        self,
        store: Store,
        *,
        audit: AuditSink | None = None,
        metrics: LinkingMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        links_changed: LinksChanged | None = None,
    ) -> None:
        self._decisions = IdentityDecisionStore(store, placeholder_name)
        self._audit = audit
        self._metrics = metrics
        self._clock = clock
        self._links_changed = links_changed

    async def unlink(
        self,
        decider: Decider,
        customer_id: CustomerId,
        source: Source,
        external_id: str,
        reason: str,
    ) -> CustomerId:
        """Take the record from the customer into a new customer of its own."""
        why = self._checked("unlink", source, external_id, reason)
        outcome = await self._decisions.unlink(
            source, external_id, customer_id, new_customer_id(), why, decider.principal.subject
        )
        done = self._accepted("unlink", outcome)
        await self._tell_links_changed(done)
        await self._record(
            decider,
            done,
            f"{source.value} record {external_id} unlinked from this customer by decision "
            f"{done.decision_id}; it is now customer {done.to_customer}",
            f"{source.value} record {external_id} unlinked from customer {done.from_customer} "
            f"by decision {done.decision_id}",
        )
        return done.from_customer

    async def link(
        self,
        decider: Decider,
        customer_id: CustomerId,
        source: Source,
        external_id: str,
        reason: str,
    ) -> CustomerId:
        """Move the record to the customer (or confirm it there as a person's link)."""
        why = self._checked("link", source, external_id, reason)
        outcome = await self._decisions.link(
            source, external_id, customer_id, why, decider.principal.subject
        )
        done = self._accepted("link", outcome)
        await self._tell_links_changed(done)
        moved = done.from_customer != done.to_customer
        await self._record(
            decider,
            done,
            f"{source.value} record {external_id} moved to customer {done.to_customer} by "
            f"decision {done.decision_id}"
            + (
                "; this customer had no other record and was deleted"
                if done.deleted_customer
                else ""
            ),
            f"{source.value} record {external_id} "
            + (f"linked here from customer {done.from_customer}" if moved else "confirmed here")
            + f" by decision {done.decision_id}",
        )
        return done.to_customer

    async def _tell_links_changed(self, done: DecisionOutcome) -> None:
        """Let what derives from links (the analysts' read model) follow the decision.

        After the decision is stored, so a failure here cannot undo it; it is logged
        (without the reason, which may quote a person) and the next sync repairs it.
        """
        if self._links_changed is None:
            return
        touched = [done.to_customer]
        if done.from_customer not in (done.to_customer, done.deleted_customer):
            touched.append(done.from_customer)
        try:
            await self._links_changed(touched)
        except Exception:
            logger.warning("read model not updated after decision %d", done.decision_id)

    def _checked(self, decision: str, source: Source, external_id: str, reason: str) -> str:
        """The reason to store, or a refusal: nothing has changed yet."""
        why = reason.strip()
        problem: str | None = None
        if not why:
            problem = "a reason is required"
        elif len(why) > MAX_REASON_LENGTH:
            problem = f"the reason must be at most {MAX_REASON_LENGTH} characters"
        elif spec_of(source).linking is None:
            # The IVR's records are calls: they are not linked to customers.
            problem = f"{source.value} records are calls, not linked records"
        elif not external_id.strip() or len(external_id) > MAX_EXTERNAL_ID_LENGTH:
            problem = "externalId is not a record id"
        if problem is not None:
            self._count(decision, "BAD_USER_INPUT")
            raise BadUserInput(problem)
        return why

    def _accepted(
        self, decision: str, outcome: DecisionOutcome | DecisionRefusal
    ) -> DecisionOutcome:
        if isinstance(outcome, str):
            self._count(decision, "BAD_USER_INPUT")
            raise BadUserInput(_REFUSALS[outcome])
        self._count(decision, "ok")
        return outcome

    async def _record(
        self, decider: Decider, done: DecisionOutcome, on_from: str, on_to: str
    ) -> None:
        sink = decider.audit or self._audit
        if sink is None:
            return
        now = self._clock()
        touched = {done.to_customer: on_to}
        if done.from_customer != done.to_customer:
            touched = {done.from_customer: on_from, **touched}
        entries = [
            AuditEntry(
                kind="LINK_CHANGE",
                subject=decider.principal.subject,
                role=decider.principal.role,
                outcome="applied",
                customer_id=customer,
                request_id=decider.request_id,
                client_address=decider.client_address,
                fields=("Customer.links",),
                detail=detail,
                at=now,
            )
            for customer, detail in touched.items()
        ]
        try:
            await sink.record(entries)
        except Exception as exc:
            # The decision's own row is the durable record (module docstring).
            logger.error(
                "could not audit a link decision", extra={"error_type": type(exc).__name__}
            )

    def _count(self, decision: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.decision(decision, outcome)
