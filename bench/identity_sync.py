"""``python -m bench.identity_sync [--full]``: the identity sync alone, as ``scv sync`` runs it.

``scv sync`` goes on, after linking, to refresh the analysts' read model and print the
data-quality report; this runs only the linking (same settings, sources, progress line and
report table), so that ``bench.sync`` can time it apart from what follows it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from datetime import timedelta

from app.cli import load_settings
from app.logs import configure_logging
from app.main import database_url
from app.sources import build_sources
from app.store import Store
from app.sync import sync_identities
from app.sync_progress import ProgressLine


async def run(full: bool) -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    progress = ProgressLine(sys.stderr, interval_seconds=settings.sync.progress_interval_seconds)
    async with AsyncExitStack() as stack:
        store = await Store.connect(await database_url(settings), pool_size=2)
        stack.push_async_callback(store.close)
        await store.migrate()
        sources = await build_sources(settings, stack)
        report = await sync_identities(
            store,
            sources.billing,
            sources.crm,
            sources.support,
            settings.identity,
            progress=progress,
            full=full,
            overlap=timedelta(seconds=settings.sync.overlap_seconds),
            batch_records=settings.sync.batch_records,
        )
        progress.finish()
        print(report.format_table())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.identity_sync", description=__doc__)
    parser.add_argument("--full", action="store_true", help="ignore the saved cursors")
    asyncio.run(run(parser.parse_args().full))


if __name__ == "__main__":
    main()
