"""``python -m bench.identity_sync [--full]``: the identity sync alone, as ``scv sync`` runs it.

``scv sync`` goes on, after linking, to refresh the analysts' read model and print the
data-quality report; this runs only the linking (``app.demo.runner.run_sync`` with
``identity_only``: same settings, sources, progress line and report table), so that
``bench.sync`` can time it apart from what follows it.
"""

from __future__ import annotations

import argparse
import asyncio

from app.cli.environment import load_settings
from app.demo.runner import run_sync
from app.observability.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.identity_sync", description=__doc__)
    parser.add_argument("--full", action="store_true", help="ignore the saved cursors")
    full = parser.parse_args().full
    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(run_sync(settings, full=full, identity_only=True))


if __name__ == "__main__":
    main()
