"""Each tenant's own source sections (``SCV_TENANTS__<TENANT>__<SOURCE>__...``), the
adapters built from them, and the response cache's keys per tenant."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from adapters.settings import HttpSourceSettings
from app.cache.metrics import CacheMetrics
from app.cache.response_cache import ResponseCache
from app.cache.settings import CacheSettings
from app.secrets.files import SecretFiles
from app.settings import Settings
from app.wiring.sources import NOT_THE_TENANTS, build_adapters, build_sources, connected
from kernel.cache import CacheKey
from kernel.errors import UpstreamNotFound
from kernel.models import BillingCustomer, BillingCustomerId, CacheState, Source
from kernel.tenancy import TenantId
from tests.builders import billing_customer

GLOBEX = TenantId("globex")
ACME = TenantId("acme")

GLOBEX_BILLING = {
    "SCV_TENANCY__TENANTS": '["acme", "globex"]',
    "SCV_TENANTS__GLOBEX__BILLING__BASE_URL": "http://127.0.0.1:9/globex/billing",
    "SCV_TENANTS__GLOBEX__BILLING__API_KEY": "sk_test_globex",
    "SCV_TENANTS__GLOBEX__BILLING__WEBHOOK_SECRET": "whsec_globex",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCV_"):
            monkeypatch.delenv(name)


def configure(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
    for name, value in {**GLOBEX_BILLING, **overrides}.items():
        monkeypatch.setenv(name, value)


def test_a_tenants_section_is_its_own_and_the_top_level_one_the_default_tenants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch, SCV_BILLING__API_KEY="sk_test_acme")
    settings = Settings()
    globex = settings.tenant_source(GLOBEX, Source.BILLING)
    acme = settings.tenant_source(ACME, Source.BILLING)
    assert isinstance(globex, HttpSourceSettings)
    assert isinstance(acme, HttpSourceSettings)
    assert globex.base_url == "http://127.0.0.1:9/globex/billing"
    assert globex.api_key.get_secret_value() == "sk_test_globex"
    assert acme.api_key.get_secret_value() == "sk_test_acme"
    # A source globex has no section for is not globex's: never acme's section instead.
    assert settings.tenant_source(GLOBEX, Source.CRM) is None
    assert settings.tenant_source(ACME, Source.CRM) is settings.source(Source.CRM)


def test_a_tenant_without_any_section_has_no_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_TENANCY__TENANTS", '["acme", "globex"]')
    settings = Settings()
    assert all(settings.tenant_source(GLOBEX, source) is None for source in Source)


@pytest.mark.parametrize(
    "left_out",
    [
        "SCV_TENANTS__GLOBEX__BILLING__API_KEY",
        "SCV_TENANTS__GLOBEX__BILLING__WEBHOOK_SECRET",
        "SCV_TENANTS__GLOBEX__BILLING__BASE_URL",
    ],
)
def test_a_tenants_section_without_its_own_place_or_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, left_out: str
) -> None:
    configure(monkeypatch)
    monkeypatch.delenv(left_out)
    with pytest.raises(ValidationError) as refused:
        Settings()
    field = left_out.rsplit("__", 1)[1].lower()
    assert f"needs its own {field}" in str(refused.value)
    assert "sk_test_globex" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("SCV_TENANTS__INITECH__BILLING__", "not a served tenant"),
        ("SCV_TENANTS__ACME__BILLING__", "the default tenant's sources"),
        ("SCV_TENANTS__GLOBEX__BILLING__BASE_ULR", "base_ulr"),
        ("SCV_TENANTS__GLOBEX__BILING__BASE_URL", "biling"),
        ("SCV_TENANTS__GLOBE-X__BILLING__BASE_URL", "tenant"),
    ],
)
def test_unknown_tenants_and_names_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, says: str
) -> None:
    configure(monkeypatch)
    if name.endswith("__"):
        # A whole section, complete but for a tenant it cannot be.
        for field in ("BASE_URL", "API_KEY", "WEBHOOK_SECRET"):
            monkeypatch.setenv(name + field, "x")
    else:
        monkeypatch.setenv(name, "x")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert says in str(refused.value).lower()


async def test_a_tenants_adapters_are_those_of_its_own_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(monkeypatch)
    settings = Settings()
    async with AsyncExitStack() as stack:
        acme = await build_adapters(settings, stack)
        globex = await build_adapters(settings, stack, tenant=GLOBEX)
        assert set(globex) == {Source.BILLING}
        assert set(acme) == set(Source)
        assert globex[Source.BILLING] is not acme[Source.BILLING]
        sources = await build_sources(settings, stack, tenant=GLOBEX)
        reading, why_not = connected(settings, sources, tenant=GLOBEX)
    assert set(reading.by_source) == {Source.BILLING}
    assert why_not == {source: NOT_THE_TENANTS for source in Source if source is not Source.BILLING}


async def test_each_tenants_cache_entries_are_its_own() -> None:
    cache = await ResponseCache.open(CacheSettings(), CacheMetrics.create(CollectorRegistry()))
    acme, globex = cache.for_tenant(ACME), cache.for_tenant(GLOBEX)
    key = CacheKey(Source.BILLING, "cus_1", "customer")
    calls: list[str] = []

    def fetcher(name: str, balance: int) -> Callable[[], Awaitable[BillingCustomer]]:
        async def fetch() -> BillingCustomer:
            calls.append(name)
            return billing_customer("cus_1", name, balance=Decimal(balance))

        return fetch

    try:
        first = await acme.get(key, BillingCustomer, fetcher("Acme's", 1))
        other = await globex.get(key, BillingCustomer, fetcher("Globex's", 2))
        assert (first.name, other.name) == ("Acme's", "Globex's")
        assert calls == ["Acme's", "Globex's"]
        # A change in globex's account drops globex's entry only.
        await globex.invalidate_record(Source.BILLING, "cus_1")
        kept = await acme.get(key, BillingCustomer, fetcher("never", 3))
        again = await globex.get(key, BillingCustomer, fetcher("Globex's again", 4))
        assert (kept.cache_state, kept.name) == (CacheState.HIT, "Acme's")
        assert (again.cache_state, again.name) == (CacheState.MISS, "Globex's again")
    finally:
        await cache.close()


def test_the_sandboxs_other_accounts_are_settings_the_gateway_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sandbox.accounts import GLOBEX_ACCOUNT, tenants_environment

    for name, value in tenants_environment("http://127.0.0.1:9").items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.tenancy.tenants == (ACME, GLOBEX)
    for source in (Source.BILLING, Source.CRM, Source.SUPPORT, Source.IVR):
        section = settings.tenant_source(GLOBEX, source)
        assert isinstance(section, HttpSourceSettings)
        assert section.api_key.get_secret_value() == GLOBEX_ACCOUNT.api_keys[source.value.lower()]
    # The account keeps no orders database: globex has no orders.
    assert settings.tenant_source(GLOBEX, Source.ORDERS) is None


async def test_a_tenants_api_key_reloads_from_its_own_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sent: list[str] = []

    def billing(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})

    configure(monkeypatch)
    settings = Settings()
    files = SecretFiles(tmp_path)
    own_file = tmp_path / "SCV_TENANTS__GLOBEX__BILLING__API_KEY"
    async with AsyncExitStack() as stack:
        adapters = await build_adapters(
            settings,
            stack,
            transports={Source.BILLING: httpx.MockTransport(billing)},
            secret_files=files,
            tenant=GLOBEX,
        )
        adapter = adapters[Source.BILLING]
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer(BillingCustomerId("cus_1"))  # type: ignore[attr-defined]
        # The default tenant's file changes nothing of globex's; its own file does.
        (tmp_path / "SCV_BILLING__API_KEY").write_text("sk_test_acme_rotated")
        own_file.write_text("sk_test_globex_rotated")
        assert files.check() == ["SCV_TENANTS__GLOBEX__BILLING__API_KEY"]
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer(BillingCustomerId("cus_1"))  # type: ignore[attr-defined]
    assert sent == ["Bearer sk_test_globex", "Bearer sk_test_globex_rotated"]


async def test_a_system_the_tenant_has_no_account_of_is_refused_not_borrowed() -> None:
    from app.tenancy.absent import AbsentSource
    from kernel.errors import SourceNotConnected

    ivr = AbsentSource(Source.IVR, GLOBEX)
    with pytest.raises(SourceNotConnected) as refused:
        await ivr.get_contact("contact-ada-0001")
    assert refused.value.source is Source.IVR
    assert refused.value.code == "SOURCE_NOT_CONNECTED"
    assert "globex" in str(refused.value)
