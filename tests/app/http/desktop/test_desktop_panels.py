"""The desktop's panels come from the source registry: one section per entry with a desktop
panel, in its place, carrying what the page asks of it and what it says without a record."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from adapters.entry import DesktopPanel
from adapters.registry import SOURCES, display_names, on_desktop
from app.http.desktop.page import render_page
from app.http.desktop.routes import desktop
from app.security.settings import AuthSettings
from kernel.models import Source

STATIC = Path(str(files("app.http.desktop") / "static"))


class Sections(HTMLParser):
    """Every panel section of a page: its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and "data-panel" in found:
            self.panels.append(found)
        if tag == "body":
            self.body = found


async def page(tmp_path: Path) -> Sections:
    app = Starlette(routes=[desktop(demo=False, data_dir=tmp_path, auth=AuthSettings())])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://desk") as client:
        response = await client.get("/desktop/")
    parsed = Sections()
    parsed.feed(response.text)
    return parsed


async def test_every_registered_panel_has_its_section_in_its_place(tmp_path: Path) -> None:
    parsed = await page(tmp_path)

    panels = [spec.desktop for spec in SOURCES if spec.desktop is not None]
    expected = sorted(panels, key=lambda panel: panel.place)
    assert [found["data-panel"] for found in parsed.panels] == [p.field for p in expected]
    assert [found["data-none"] for found in parsed.panels] == [p.none for p in expected]
    assert [found["data-selection"] for found in parsed.panels] == [p.selection for p in expected]
    assert [found["id"] for found in parsed.panels] == [f"panel-{p.field}" for p in expected]


async def test_a_source_without_a_desktop_panel_has_no_section(tmp_path: Path) -> None:
    parsed = await page(tmp_path)

    fields = {found["data-panel"] for found in parsed.panels}
    assert "profile" in fields
    assert not any(spec.desktop for spec in SOURCES if spec.source is Source.IVR)
    assert len(fields) == len(on_desktop())


async def test_the_systems_names_ride_on_the_body(tmp_path: Path) -> None:
    parsed = await page(tmp_path)

    names = parsed.body["data-system-names"]
    assert names is not None
    for source, name in display_names().items():
        assert f'"{source.value}": "{name}"' in names


def test_a_panel_s_words_are_escaped_into_the_page() -> None:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    odd = DesktopPanel(
        field="extra", title="<b>X</b>", none='"none" & more', selection="a { b }", place=0
    )

    html = render_page(template, [odd], {}).decode()

    assert "<b>X</b>" not in html
    assert "&lt;b&gt;X&lt;/b&gt;" in html
    assert 'data-none="&quot;none&quot; &amp; more"' in html


def test_a_template_without_its_marks_is_refused() -> None:
    with pytest.raises(ValueError, match="mark"):
        render_page("<html></html>", on_desktop(), display_names())


def test_the_page_s_scripts_name_no_system_s_panel_list() -> None:
    # The scripts read the panels from the page: a list of panel fields would be a second
    # registry that a new source would have to join.
    scripts = " ".join(path.read_text() for path in STATIC.glob("*.js"))
    assert not re.search(r"\[\s*\"profile\",\s*\"billing\"", scripts)
    assert 'CRM: "The CRM"' not in scripts
