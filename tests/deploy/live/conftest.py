"""The compose stack, tried from outside through its load balancer (``make test-deploy``).

``deploy/stack.sh test`` builds the images, starts the stack, sets ``DEPLOY_STACK_TESTS``
and runs this directory, then tears the stack down. Without it (``make test``, a bare
``pytest``) this directory is not collected at all.
"""

from __future__ import annotations

import os

import pytest

if not os.environ.get("DEPLOY_STACK_TESTS"):
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.deploy.live.figures import FIGURES

    if FIGURES:
        terminalreporter.section("one gateway replica stopped under load")
        for line in FIGURES:
            terminalreporter.write_line(line)
