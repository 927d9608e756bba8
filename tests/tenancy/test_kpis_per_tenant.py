"""integrationKpis per tenant, over the two-tenant stack (each synced from its own sandbox
accounts, with its facts and ticket backlog: acme's many, globex's one run and two open
tickets): a supervisor reads its own tenant's sync runs and backlog, a platform operator the
chosen tenant's (X-Tenant) or, naming none, every tenant's added up."""

from __future__ import annotations

from typing import Any

import pytest

from app.security.demo_keys import mint_token
from tests.tenancy.conftest import ACME, GLOBEX, TenantsStack

pytestmark = pytest.mark.e2e

#: globex's sync runs and open tickets: one full sync of its own accounts, whose open
#: tickets are Hedy Lamarr's and its own Grace Hopper's (sandbox/data/globex.py).
GLOBEX_OWN = (1, 2)

KPIS = """{ integrationKpis(since: "2000-01-01T00:00:00+00:00") {
  syncRuns { outcome runs } backlog { status ageBucket tickets }
  recordVolume { source failed duplicates } sourcesTrend { source calls }
} }"""


def _totals(kpis: dict[str, Any]) -> tuple[int, int, int]:
    return (
        sum(row["runs"] for row in kpis["syncRuns"]),
        sum(row["tickets"] for row in kpis["backlog"]),
        sum(row["calls"] for row in kpis["sourcesTrend"]),
    )


async def _kpis(stack: TenantsStack, token: str, **headers: str) -> tuple[int, int, int]:
    response = await stack.post(KPIS, {}, token, **headers)
    body = response.json()
    assert not body.get("errors"), body
    return _totals(body["data"]["integrationKpis"])


async def test_each_supervisor_reads_its_own_tenants_kpis(tenants_stack: TenantsStack) -> None:
    acme = await _kpis(tenants_stack, tenants_stack.token("supervisor", ACME))
    globex = await _kpis(tenants_stack, tenants_stack.token("supervisor", GLOBEX))

    # acme's sync runs, its open tickets, its sources' calls (the sync's, made for it).
    assert min(acme) >= 1
    # globex's own: one sync of its accounts, its two open tickets (Hedy's and its Grace's).
    assert globex[:2] == GLOBEX_OWN
    assert acme[:2] != globex[:2]


async def test_an_operator_reads_a_tenants_kpis_or_the_platform_total(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    operator = mint_token(
        stack.keys,
        stack.settings.auth,
        subject="operator-kpis",
        role="operator",
        tenants=[ACME, GLOBEX],
    )
    acme = await _kpis(stack, operator, **{"X-Tenant": ACME})
    globex = await _kpis(stack, operator, **{"X-Tenant": GLOBEX})
    platform = await _kpis(stack, operator)

    assert acme[:2] == (await _kpis(stack, stack.token("supervisor", ACME)))[:2]
    assert platform[:2] == (acme[0] + globex[0], acme[1] + globex[1])
    assert globex[:2] == GLOBEX_OWN
