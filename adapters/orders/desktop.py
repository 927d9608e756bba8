"""Its panel on the agent desktop (``/desktop``): the orders database's customer: open orders
and the latest, with their shipments.
"""

from __future__ import annotations

from adapters.entry import DesktopPanel

PANEL = DesktopPanel(
    field="orders",
    title="Orders",
    none="The orders database has no record of this customer.",
    selection=(
        "openOrderCount orders(first: 5) { number status placedAt total { amount currency "
        "} shipment { carrier status } }"
    ),
    place=3,
)
