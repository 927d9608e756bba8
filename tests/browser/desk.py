"""The desktop page as an agent uses it: one Chromium each, driven through what is on screen
(labels, buttons, the text of the panels), never through the page's own code."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Debian's chromium, as quiet as it can be: no sandbox (root in a container), no GPU, and
#: none of the background calls home that would fail (or hang) without internet access.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,800",
)
WAIT_SECONDS = 15.0
VIEWPORT = (1280, 800)

T = TypeVar("T")


def chromium() -> webdriver.Chrome:
    """A new headless Chromium with a fresh profile (so a fresh sessionStorage)."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='scv-chromium-')}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    # The window's size includes what a browser draws around the page: grow it so that
    # the page itself (the viewport) is 1280x800, the screen the desktop is made for.
    chrome: list[int] = driver.execute_script(
        "return [outerWidth - innerWidth, outerHeight - innerHeight];"
    )
    driver.set_window_size(VIEWPORT[0] + chrome[0], VIEWPORT[1] + chrome[1])
    return driver


class Desk:
    """One agent's desktop in one browser."""

    def __init__(self, driver: webdriver.Chrome, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots

    # -- finding things as an agent sees them --------------------------------------------

    def wait(self, condition: Callable[[webdriver.Chrome], T], what: str) -> T:
        # The queue is redrawn as it changes: an element found a moment ago may be gone.
        waiting = WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiting.until(condition, f"waiting for {what}")

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def labelled(self, label: str) -> WebElement:
        """The control whose <label> says exactly ``label``."""
        for node in self.driver.find_elements(By.TAG_NAME, "label"):
            if node.text.strip() == label:
                return self.by_id(node.get_attribute("for") or "")
        raise AssertionError(f"no control labelled {label!r}")

    def button(self, text: str, within: WebElement | None = None) -> WebElement:
        root: Any = within or self.driver
        for node in root.find_elements(By.TAG_NAME, "button"):
            if node.is_displayed() and node.text.strip() == text:
                return node
        raise AssertionError(f"no button {text!r} on screen")

    def text(self, element_id: str) -> str:
        return self.by_id(element_id).text

    def panel(self, name: str) -> WebElement:
        return self.by_id(f"panel-{name}")

    def message(self) -> str:
        box = self.by_id("message")
        return box.text if box.is_displayed() else ""

    def shot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    # -- doing things --------------------------------------------------------------------

    def open(self) -> Desk:
        self.driver.get(f"{self.base_url}/desktop")
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete", "page")
        return self

    def sign_in_as(self, agent: str) -> None:
        self.wait(lambda d: self.by_id("demo-agents").is_displayed(), "the demo sign-in buttons")
        self.button(f"Sign in as {agent}").click()
        self.wait(lambda d: self.text("who").startswith(f"Signed in as {agent}"), "signed in")

    def find(self, text: str) -> int:
        """Type ``text`` in Find customer, press Enter, and wait for every panel; the time
        the page measured from Enter to every panel rendered, in milliseconds."""
        section = self.by_id("customer")
        before = section.get_attribute("data-find-ms")
        self.driver.execute_script("arguments[0].removeAttribute('data-find-ms')", section)
        field = self.labelled("Find customer")
        field.clear()
        field.send_keys(text, Keys.ENTER)
        self.wait(
            lambda d: (
                section.get_attribute("data-find-ms") is not None
                and section.get_attribute("data-state") == "ready"
                and all(
                    self.panel(name).get_attribute("data-state") in ("ready", "error", "none")
                    for name in ("profile", "billing", "support")
                )
            ),
            f"the customer for {text!r} (was {before})",
        )
        return int(section.get_attribute("data-find-ms") or 0)

    def queue_item(self, contact_id: str) -> WebElement:
        selector = f'#queue-list li[data-contact="{contact_id}"]'
        return self.wait(
            lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, selector)), None),
            f"call {contact_id} in the queue",
        )

    def claim(self, contact_id: str) -> None:
        self.button("Claim", within=self.queue_item(contact_id)).click()
        self.wait(lambda d: self.by_id("call").is_displayed(), "the call banner")
        self.wait(lambda d: self.by_id("customer").get_attribute("data-state") == "ready", "view")

    def field(self, panel: str, label: str) -> str:
        """The value shown beside ``label`` in a panel's list of fields."""
        terms = self.panel(panel).find_elements(By.TAG_NAME, "dt")
        for term in terms:
            if term.text.strip() == label:
                value: str = term.find_element(By.XPATH, "following-sibling::dd[1]").text
                return value
        raise AssertionError(f"no field {label!r} in {panel}")

    def horizontal_overflow(self) -> int:
        """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
        overflow: int = self.driver.execute_script(
            "const e = document.documentElement; return e.scrollWidth - e.clientWidth;"
        )
        return overflow
