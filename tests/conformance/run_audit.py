"""``make conformance``: the graphql-http audit against a gateway this script starts.

The e2e tests' stack on ephemeral loopback ports (the sandbox, an embedded PostgreSQL, a
sync, the gateway), then ``node audit.cjs`` against its ``/graphql`` with an agent's token;
the exit status is the audit's. ``NODE_PATH`` names where the target installed graphql-http;
the first argument, the folder for the embedded PostgreSQL and the demo keys.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pydantic import SecretStr

from app.cli.commands import with_sandbox_port
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from app.store.embedded import start_embedded_postgres
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store

HERE = Path(__file__).parent


async def audit(scratch: Path) -> int:
    server_url = os.environ.get("SCV_TEST_DATABASE_URL") or start_embedded_postgres(
        scratch / "postgres"
    )
    sandbox, sandbox_task, sandbox_port = await serve(create_sandbox_app(seed=42, customers=20))
    try:
        async with scratch_database(server_url, "conformance") as url:
            settings = with_sandbox_port(
                Settings(demo=True, data_dir=scratch / "scv", database_url=SecretStr(url)),
                sandbox_port,
            )
            await sync_store(settings)
            gateway, gateway_task, port = await serve(create_app(settings))
            try:
                keys = ensure_demo_keys(settings.data_dir)
                token = mint_token(keys, settings.auth, subject="conformance", role="agent")
                node = await asyncio.create_subprocess_exec(
                    "node",
                    str(HERE / "audit.cjs"),
                    f"http://127.0.0.1:{port}/graphql",
                    env={**os.environ, "SCV_AUDIT_TOKEN": token},
                )
                return await node.wait()
            finally:
                await stop(gateway, gateway_task)
    finally:
        await stop(sandbox, sandbox_task)


def main() -> int:
    # Kept between runs (PostgreSQL stops at exit, after any temporary folder would be gone).
    scratch = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/tools/conformance/data")
    scratch.mkdir(parents=True, exist_ok=True)
    return asyncio.run(audit(scratch.resolve()))


if __name__ == "__main__":
    sys.exit(main())
