"""A platform operator sees health, metrics and the integration KPIs, never a customer:
over a real gateway serving two tenants, an operator's customer lookups are refused whole
(FORBIDDEN, saying why), whether it acts for the platform or names a tenant, and nothing
reaches any tenant's audit trail; its KPIs are served."""

from __future__ import annotations

import pytest

from app.security.demo_keys import mint_token
from tests.tenancy.conftest import ACME, GLOBEX, TenantsStack, audit_rows

pytestmark = pytest.mark.e2e

BY_EMAIL = "query($e: String!) { customerByEmail(email: $e) { id } }"
BY_FRAGMENT = """query($e: String!) { ...Lookup integrationKpis { syncRuns { runs } } }
fragment Lookup on Query { customerByEmail(email: $e) { id } }"""
KPIS = "{ integrationKpis { syncRuns { outcome runs } } }"


def _operator(stack: TenantsStack) -> str:
    return mint_token(
        stack.keys,
        stack.settings.auth,
        subject="operator-1",
        role="operator",
        tenants=[ACME, GLOBEX],
    )


@pytest.mark.parametrize("tenant_header", [None, ACME])
@pytest.mark.parametrize("document", [BY_EMAIL, BY_FRAGMENT])
async def test_an_operator_is_refused_customer_data_with_a_clear_error(
    tenants_stack: TenantsStack, tenant_header: str | None, document: str
) -> None:
    stack = tenants_stack
    trail_before = len(await audit_rows(stack.database_url, ACME))
    headers = {"X-Tenant": tenant_header} if tenant_header else {}
    email = stack.acme.emails[0]
    response = await stack.post(document, {"e": email}, _operator(stack), **headers)
    body = response.json()
    assert body.get("data") is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "platform operator" in error["message"]
    assert "customerByEmail" in error["message"]
    assert email not in response.text
    assert len(await audit_rows(stack.database_url, ACME)) == trail_before


async def test_an_operator_acting_for_the_platform_reads_the_kpis(
    tenants_stack: TenantsStack,
) -> None:
    data = await tenants_stack.data(KPIS, {}, _operator(tenants_stack))
    assert sum(row["runs"] for row in data["integrationKpis"]["syncRuns"]) >= 1
