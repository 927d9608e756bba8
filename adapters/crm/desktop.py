"""Its panel on the agent desktop (``/desktop``): the CRM's contact: the customer's name and
contact details.
"""

from __future__ import annotations

from adapters.entry import DesktopPanel

PANEL = DesktopPanel(
    field="profile",
    title="Profile",
    none="The CRM has no record of this customer.",
    selection=("name email phone address { line1 line2 city region postalCode country }"),
    place=0,
)
