"""Its panel on the agent desktop (``/desktop``): billing's customer: balance, subscriptions,
the latest invoices, cards.
"""

from __future__ import annotations

from adapters.entry import DesktopPanel

PANEL = DesktopPanel(
    field="billing",
    title="Billing",
    none="Billing has no record of this customer.",
    selection=(
        "balance { amount currency } delinquent subscriptions { status planName interval "
        "currentPeriodEnd amount { amount currency } } invoices(first: 3) { number status "
        "overdue dueDate amountDue { amount currency } } paymentCards { brand last4 "
        "expMonth expYear }"
    ),
    place=1,
)
