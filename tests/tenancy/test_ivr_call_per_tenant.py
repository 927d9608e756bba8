"""``scv ivr-call --tenant``: a call played on a tenant's own IVR account is handed over as
that tenant's (the IVR's token carries it), and only that tenant's agents can claim it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from app.cli.commands import main
from app.demo.sandbox_tenants import SANDBOX_TENANTS_FILE
from sandbox.accounts import tenants_environment
from tests.tenancy.conftest import ACME, GLOBEX, TenantsStack

pytestmark = pytest.mark.e2e

CLAIM = (
    "mutation($c: ID!) { claimInteraction(contactId: $c) { token "
    "interaction { customer { displayName } } } }"
)


async def test_a_globex_call_is_handed_over_as_globex_and_claimed_by_globex_only(
    tenants_stack: TenantsStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir: Path = tenants_stack.settings.data_dir
    # What `scv demo` writes beside its keys: the tenants its sandbox serves.
    environment = tenants_environment(tenants_stack.sandbox_url)
    (data_dir / SANDBOX_TENANTS_FILE).write_text(
        "".join(f"{key}={value}\n" for key, value in environment.items()), encoding="utf-8"
    )
    monkeypatch.setenv("SCV_DATA_DIR", str(data_dir))

    await asyncio.to_thread(
        main,
        [
            "ivr-call",
            "--tenant",
            "globex",
            "--phone",
            "+13105550142",
            "--gateway",
            tenants_stack.gateway_url,
        ],
    )

    printed = capsys.readouterr().out
    assert "--tenant globex" in printed
    found = re.search(r"^contact (\S+) handed over", printed, re.M)
    assert found is not None, printed
    contact = found.group(1)
    acme_claim = await tenants_stack.post(
        CLAIM, {"c": contact}, tenants_stack.token("agent", ACME, "agent-acme-ivr")
    )
    assert acme_claim.json()["data"] is None or not acme_claim.json()["data"].get(
        "claimInteraction"
    )
    claimed = await tenants_stack.data(
        CLAIM, {"c": contact}, tenants_stack.token("agent", GLOBEX, "agent-globex-ivr")
    )
    assert claimed["claimInteraction"]["interaction"]["customer"]["displayName"] == "Hedy L."
