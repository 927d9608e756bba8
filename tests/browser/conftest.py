"""Fixtures of the browser tests: the live stack (once per session), a desk per agent, and
the find-customer timings, printed at the end of the run (a figure, not an assertion).

These tests need Debian's chromium, chromium-driver and selenium: ``make test-browser``
installs them and sets ``DESKTOP_BROWSER_TESTS``. Without it (``make test``, a bare ``pytest``)
this directory is not collected at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

if not os.environ.get("DESKTOP_BROWSER_TESTS"):
    collect_ignore_glob = ["test_*.py"]


#: Where this run's screenshots went (set by the fixture), said in the closing summary.
SCREENSHOTS: list[Path] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.browser.timings import summary

    lines = summary()
    if lines:
        terminalreporter.section("find customer: Enter to every panel rendered")
        for line in lines:
            terminalreporter.write_line(line)
    for where in SCREENSHOTS:
        terminalreporter.write_line(f"screenshots: {where}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the tests save what the agent saw (DESKTOP_SCREENSHOTS, else a temp dir)."""
    configured = os.environ.get("DESKTOP_SCREENSHOTS")
    where = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="scv-desktop-"))
    where.mkdir(parents=True, exist_ok=True)
    SCREENSHOTS.append(where)
    return where


@pytest.fixture(scope="session")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tests.browser.live import start_stack

    stack = start_stack(database_url, tmp_path_factory.mktemp("scv"))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def stack(live: object) -> Iterator[object]:
    """The live stack with no faults and an empty cache, before and after the test."""
    from tests.browser.live import LiveStack

    assert isinstance(live, LiveStack)
    live.reset()
    yield live
    live.reset()


@pytest.fixture
def open_desk(
    live: object, screenshots: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], object]]:
    """Opens a desktop in a browser of its own (an agent each); all closed after the test,
    with a screenshot of each if the test failed."""
    from tests.browser.desk import Desk, chromium
    from tests.browser.live import LiveStack

    assert isinstance(live, LiveStack)
    desks: list[Desk] = []

    def open_one() -> Desk:
        desk = Desk(chromium(), live.gateway_url, screenshots)
        desks.append(desk)
        return desk.open()

    yield open_one
    failed = getattr(request.node, "failed_call", False)
    for number, desk in enumerate(desks):
        if failed:
            desk.shot(f"failed-{request.node.name}-{number}")
        desk.driver.quit()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call" and getattr(report, "failed", False):
        item.failed_call = True  # type: ignore[attr-defined]
    return report
