"""Which tenant a request acts for: its token's tenants, the tenant header, the operator."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.tenancy.selection import choose_tenant, tenants_of
from app.tenancy.settings import TenancySettings
from kernel.access import Principal
from kernel.tenancy import TenantForbidden, TenantId, TenantRequired

ACME, GLOBEX, INITECH = TenantId("acme"), TenantId("globex"), TenantId("initech")
SINGLE = TenancySettings()
BOTH = TenancySettings(tenants=(ACME, GLOBEX))


def agent(*tenants: TenantId, role: str = "agent") -> Principal:
    return Principal(subject="agent-1", role=role, tenants=frozenset(tenants))


def test_a_token_without_tenants_acts_for_the_only_tenant_served() -> None:
    assert choose_tenant(agent(), None, SINGLE) == ACME


def test_a_token_without_tenants_acts_for_none_when_several_are_served() -> None:
    assert tenants_of(agent(), BOTH) == frozenset()
    with pytest.raises(TenantForbidden):
        choose_tenant(agent(), None, BOTH)


def test_a_token_of_one_tenant_needs_no_header() -> None:
    assert choose_tenant(agent(GLOBEX), None, BOTH) == GLOBEX


def test_a_token_of_several_tenants_must_name_one() -> None:
    with pytest.raises(TenantRequired) as refused:
        choose_tenant(agent(ACME, GLOBEX), None, BOTH)
    assert "x-tenant" in refused.value.message
    assert choose_tenant(agent(ACME, GLOBEX), "globex", BOTH) == GLOBEX
    assert choose_tenant(agent(ACME, GLOBEX), " Acme ", BOTH) == ACME


@pytest.mark.parametrize("named", ["globex", "initech", "no such tenant", "../acme"])
def test_a_tenant_the_token_may_not_act_for_is_refused_alike(named: str) -> None:
    with pytest.raises(TenantForbidden) as refused:
        choose_tenant(agent(ACME, INITECH), named, BOTH)
    # The same words whether the tenant exists or not: nobody learns the clients by asking.
    assert refused.value.message == (
        "this token may not act for the tenant named in the x-tenant header"
    )


def test_a_token_naming_only_unserved_tenants_acts_for_none() -> None:
    with pytest.raises(TenantForbidden):
        choose_tenant(agent(INITECH), None, BOTH)


def test_an_operator_naming_no_tenant_acts_for_the_platform() -> None:
    assert choose_tenant(agent(role="operator"), None, BOTH) is None
    assert choose_tenant(agent(ACME, GLOBEX, role="operator"), None, BOTH) is None
    assert choose_tenant(agent(ACME, GLOBEX, role="operator"), "acme", BOTH) == ACME


def test_the_header_name_is_configurable() -> None:
    settings = TenancySettings(tenants=(ACME, GLOBEX), header="X-Client")
    with pytest.raises(TenantRequired) as refused:
        choose_tenant(agent(ACME, GLOBEX), None, settings)
    assert "x-client" in refused.value.message


@pytest.mark.parametrize(
    "fields",
    [
        {"tenants": ()},
        {"tenants": ("acme", "acme")},
        {"tenants": ("Acme Corp",)},
        {"tenants": ("globex",)},  # the default, acme, is not among them
        {"default_tenant": "globex"},
    ],
)
def test_tenancy_settings_refuse_what_cannot_be_served(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TenancySettings.model_validate(fields)


def test_tenants_come_from_the_environment_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.settings import Settings

    monkeypatch.setenv("SCV_TENANCY__TENANTS", '["acme", "Globex"]')
    monkeypatch.setenv("SCV_TENANCY__DEFAULT_TENANT", "globex")
    settings = Settings()
    assert settings.tenancy.tenants == (ACME, GLOBEX)
    assert settings.tenancy.default_tenant == GLOBEX
