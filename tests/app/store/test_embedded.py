"""The embedded PostgreSQL: started once per data directory, reachable by asyncpg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from app.store.embedded import start_embedded_postgres


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


@pytest.fixture(scope="module")
def url(data_dir: Path) -> str:
    return start_embedded_postgres(data_dir)


async def test_asyncpg_connects_with_the_url_it_returns(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()


def test_a_second_start_reuses_the_running_server(data_dir: Path, url: str) -> None:
    assert start_embedded_postgres(data_dir) == url


def test_handles_of_exited_processes_are_forgotten(data_dir: Path, url: str) -> None:
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    handles = data_dir / "pg" / ".handle_pids.json"
    handles.write_text(json.dumps([exited.pid, os.getpid()]))

    start_embedded_postgres(data_dir)

    # This process is left as the one to stop the server when it exits.
    assert json.loads(handles.read_text()) == [os.getpid()]
