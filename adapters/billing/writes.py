"""What the gateway writes to billing, the system of record for money: a subscription's
cancellation at the end of its period, with Stripe's idempotency key."""

from __future__ import annotations

from adapters.billing.port import BillingAdapter
from kernel.models import BillingCustomerId, SubscriptionId
from kernel.writes import SourceWrite, WriteApplied, WriteCommand, WriteKind


async def cancel_at_period_end(adapter: BillingAdapter, command: WriteCommand) -> WriteApplied:
    """``cancel_at_period_end=true``, keyed so that a repeat changes nothing more."""
    await adapter.cancel_subscription_at_period_end(
        SubscriptionId(command.record_id), command.vendor_key
    )
    return WriteApplied(record_id=command.record_id)


async def subscribed_by(adapter: BillingAdapter, customer_id: str, subscription_id: str) -> bool:
    """Whether the subscription is one of the customer's billing customer."""
    subscriptions = await adapter.list_subscriptions(BillingCustomerId(customer_id))
    return any(item.id == subscription_id for item in subscriptions.items)


WRITES: tuple[SourceWrite, ...] = (
    SourceWrite(WriteKind.SUBSCRIPTION_CANCEL, cancel_at_period_end, owns=subscribed_by),
)
