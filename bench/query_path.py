"""``python -m bench.query_path``: the project's files one whole-customer view passes through.

Runs the stack in one process (embedded PostgreSQL, the sandbox and the gateway under
uvicorn on loopback, a sync), sends the agent desktop's whole view once cold (nothing
cached) and once warm, and records with ``sys.setprofile`` every first-party file in which a
function ran while the gateway answered. Prints, per run, the files by top-level package and
how many times the call path crossed from one package to another (kernel, adapters, app,
resolvers). The count measures the house (how many files a reader follows for one query),
not speed; nothing is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from app.cli.environment import with_sandbox_port
from app.identity.sync.runner import sync_identities
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from app.wiring.sources import build_sources
from bench.scenarios import WHOLE_VIEW
from sandbox.server import create_sandbox_app

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kernel", "adapters", "app", "resolvers")


class PathRecorder:
    """The first-party files whose functions run, in order of first call, and the package
    boundaries the calls cross (caller's package != callee's)."""

    def __init__(self) -> None:
        self.files: dict[str, None] = {}
        self.crossings = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        callee = self._ours(frame.f_code.co_filename)
        if callee is None:
            return
        self.files.setdefault(callee, None)
        caller = frame.f_back
        caller_file = self._ours(caller.f_code.co_filename) if caller is not None else None
        if caller_file is not None and caller_file.split("/")[0] != callee.split("/")[0]:
            self.crossings += 1

    @staticmethod
    def _ours(filename: str) -> str | None:
        try:
            relative = Path(filename).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return None
        return relative if relative.split("/")[0] in PACKAGES else None


async def serve(app: ASGIApp) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """``app`` under uvicorn on an ephemeral loopback port, once it accepts connections."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def measure(customers: int) -> list[tuple[str, PathRecorder]]:
    """The recorded path of a cold and of a warm whole view of Ada Lovelace."""
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch)
        database_url = start_embedded_postgres(data_dir / "postgres")
        sandbox, sandbox_task, sandbox_port = await serve(
            create_sandbox_app(seed=42, customers=customers)
        )
        settings = with_sandbox_port(
            Settings(demo=True, data_dir=data_dir, database_url=SecretStr(database_url)),
            sandbox_port,
        )
        async with AsyncExitStack() as resources:
            store = await Store.connect(database_url, pool_size=2)
            resources.push_async_callback(store.close)
            await store.migrate()
            sources = await build_sources(settings, resources)
            await sync_identities(store, sources.by_source, settings.identity)
        gateway, gateway_task, gateway_port = await serve(create_app(settings))
        keys = ensure_demo_keys(data_dir)
        token = mint_token(keys, settings.auth, subject="agent-1", role="agent")
        runs = []
        async with httpx.AsyncClient(timeout=10.0) as http:
            for name in ("cold", "warm"):
                recorder = PathRecorder()
                sys.setprofile(recorder)
                try:
                    response = await http.post(
                        f"http://127.0.0.1:{gateway_port}/graphql",
                        json={
                            "query": WHOLE_VIEW,
                            "variables": {"email": "ada.lovelace@example.com"},
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                finally:
                    sys.setprofile(None)
                response.raise_for_status()
                if response.json().get("errors"):
                    raise RuntimeError(f"the whole view failed: {response.json()['errors']}")
                runs.append((name, recorder))
        for server, task in ((gateway, gateway_task), (sandbox, sandbox_task)):
            server.should_exit = True
            await task
    return runs


def report(runs: list[tuple[str, PathRecorder]], *, verbose: bool) -> str:
    lines = []
    for name, recorder in runs:
        by_package = Counter(path.split("/")[0] for path in recorder.files)
        lines.append(
            f"{name}: {len(recorder.files)} files "
            f"({', '.join(f'{p} {by_package[p]}' for p in PACKAGES)}), "
            f"{recorder.crossings} calls across packages"
        )
        if verbose:
            lines.extend(f"  {path}" for path in sorted(recorder.files))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200, help="sandbox customers (200)")
    parser.add_argument("--files", action="store_true", help="list the files of each run")
    args = parser.parse_args()
    print(report(asyncio.run(measure(args.customers)), verbose=args.files))


if __name__ == "__main__":
    main()
