"""Its panel on the agent desktop (``/desktop``): support's user: open tickets and the latest."""

from __future__ import annotations

from adapters.entry import DesktopPanel

PANEL = DesktopPanel(
    field="support",
    title="Support",
    none="Support has no record of this customer.",
    selection=("openTicketCount tickets(first: 5) { id subject status priority updatedAt }"),
    place=2,
)
