"""An export's download (``GET /exports/{id}``) outside GraphQL: another tenant's job is
answered exactly as a missing one (404, NOT_FOUND), and the attempt goes on the owning
tenant's trail, never the asker's."""

from __future__ import annotations

import pytest

from tests.tenancy.conftest import ACME, GLOBEX, TenantsStack, audit_rows

pytestmark = pytest.mark.e2e


async def test_another_tenants_download_is_missing_and_audited_on_its_trail(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    [export_id] = stack.acme.export_ids
    token = stack.token("analyst", GLOBEX, "analyst-probe-globex")
    acme_before = {row["id"] for row in await audit_rows(stack.database_url, ACME)}
    globex_before = len(await audit_rows(stack.database_url, GLOBEX))

    async def download(job: str) -> tuple[int, str]:
        response = await stack.http.get(
            f"{stack.gateway_url}/exports/{job}", headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code, response.json()["errors"][0]["extensions"]["code"]

    assert await download(export_id) == await download("no-such-export") == (404, "NOT_FOUND")
    new = [r for r in await audit_rows(stack.database_url, ACME) if r["id"] not in acme_before]
    assert [(r["subject"], r["outcome"], r["customer_id"]) for r in new] == [
        ("analyst-probe-globex", "denied", None)
    ]
    assert "by export from tenant globex" in new[0]["detail"]
    assert len(await audit_rows(stack.database_url, GLOBEX)) == globex_before
