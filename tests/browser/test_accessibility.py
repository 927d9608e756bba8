"""axe-core over the desktop's main states: no serious or critical accessibility violations
(the vendored ``vendor/axe-core/axe.min.js``, injected by Selenium; the page never loads it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser.desk import Desk
from tests.browser.live import LiveStack

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
  }))),
  (error) => done([{id: "axe-failed", impact: "critical", help: String(error), nodes: []}]),
);
"""


def violations(desk: Desk) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now."""
    desk.driver.set_script_timeout(30)
    if not desk.driver.execute_script("return typeof axe !== 'undefined'"):
        desk.driver.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = desk.driver.execute_async_script(RUN_AXE)
    return [v for v in found if v["impact"] in BLOCKING]


def test_no_serious_violations_in_the_main_states(
    stack: LiveStack, open_desk: Callable[[], Desk]
) -> None:
    desk = open_desk()
    assert violations(desk) == [], "signed out"

    desk.sign_in_as("agent-1")
    desk.find("ada.lovelace@example.com")
    assert violations(desk) == [], "Ada, masked"

    contact_id = stack.ivr_call(customer="ada", auth_result="NOT_AUTHENTICATED")
    desk.claim(contact_id)
    assert desk.by_id("kba").is_displayed()
    assert violations(desk) == [], "a call claimed, the knowledge check open"
    desk.button("End call").click()

    stack.reset()  # Ada's panels are cached by now: empty the cache, or billing is a HIT
    stack.set_faults("billing", error_rate=1.0, error_status=503)
    desk.find("ada.lovelace@example.com")
    assert desk.panel("billing").get_attribute("data-state") == "error"
    assert violations(desk) == [], "billing down"
