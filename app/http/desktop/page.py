"""The desktop page as served: its template (``static/index.html``) with the registry's panels.

Each registered source whose entry has a desktop panel (``adapters/<source>/desktop.py``)
gets a section of its own, in its place, carrying what the page asks of it (its GraphQL
selection) and what it says when the source has no record; the page's scripts read both from
the section, so a new source's panel needs no change to them. The systems' names (``The
CRM``) ride on ``<body>`` for the page's messages. Filled in once, when the route is built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape

from adapters.entry import DesktopPanel
from kernel.models import Source

#: Where the template takes the panels, and the systems' names.
PANELS_MARK = "<!-- panels: one per registered source with a desktop panel (page.py) -->"
NAMES_MARK = 'data-system-names=""'


def panel_section(panel: DesktopPanel) -> str:
    """One panel's section: empty until a customer is shown (``render.js`` fills it)."""
    name = escape(panel.field)
    return (
        f'<section id="panel-{name}" class="panel" aria-labelledby="panel-{name}-title"\n'
        f'                   data-panel="{name}" data-none="{escape(panel.none)}"\n'
        f'                   data-selection="{escape(panel.selection)}">\n'
        f'            <h3 id="panel-{name}-title">{escape(panel.title)}</h3>\n'
        '            <p class="meta"></p>\n'
        '            <div class="body"></div>\n'
        "          </section>"
    )


def render_page(
    template: str, panels: Sequence[DesktopPanel], names: Mapping[Source, str]
) -> bytes:
    """``template`` with ``panels`` (in the order given) and the systems' ``names``."""
    if PANELS_MARK not in template or NAMES_MARK not in template:
        raise ValueError("the desktop template lacks its panels' or names' mark")
    sections = "\n          ".join(panel_section(panel) for panel in panels)
    by_value = json.dumps({source.value: name for source, name in names.items()})
    page = template.replace(PANELS_MARK, sections).replace(
        NAMES_MARK, f'data-system-names="{escape(by_value)}"'
    )
    return page.encode()
