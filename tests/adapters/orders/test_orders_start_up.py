"""The gateway's start-up (its sources built through the registry) with an orders section that
names a table the database lacks, and with a database that does not answer."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.orders.client import SqlOrdersAdapter
from adapters.sql.schema import MissingSchemaError
from app.settings import Settings
from app.wiring.sources import build_adapters
from kernel.models import Source
from tests.adapters.orders.legacy_databases import sqlite_orders


async def test_start_up_refuses_a_section_naming_a_missing_table(tmp_path: Path) -> None:
    section = sqlite_orders(tmp_path / "legacy.sqlite").model_copy(
        update={"lines_table": "order_lines"}
    )
    settings = Settings(data_dir=tmp_path, orders=section)

    with pytest.raises(MissingSchemaError, match=r"'order_lines' \(SCV_ORDERS__LINES_TABLE\)"):
        async with AsyncExitStack() as stack:
            await build_adapters(settings, stack)


async def test_start_up_goes_on_when_the_orders_database_does_not_answer(tmp_path: Path) -> None:
    down = f"postgresql+asyncpg://reader@/legacy?host={tmp_path}"
    settings = Settings(
        data_dir=tmp_path,
        orders={"url": SecretStr(down), "connect_timeout": 0.5},
    )

    async with AsyncExitStack() as stack:
        adapters = await build_adapters(settings, stack)

    assert isinstance(adapters[Source.ORDERS], SqlOrdersAdapter)
    assert set(adapters) == set(Source)
