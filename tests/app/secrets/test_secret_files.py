"""Secret files read again while the gateway runs: a source's next call sends the new key."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adapters.billing.settings import BillingSettings
from adapters.crm.settings import CrmSettings
from app.secrets.files import SecretFiles, secret_fields
from app.settings import Settings
from app.wiring.sources import build_adapters
from kernel.errors import UpstreamNotFound
from kernel.models import BillingCustomerId, Source


def test_every_secret_field_of_a_section_is_found() -> None:
    assert secret_fields(CrmSettings) == ["api_key", "webhook_secret", "webhook_secret_previous"]


def test_a_changed_file_tells_the_sections_watchers_and_nothing_else(tmp_path: Path) -> None:
    files = SecretFiles(tmp_path)
    seen: list[CrmSettings] = []
    files.watch(("crm",), CrmSettings(api_key=SecretStr("one")), seen.append)
    assert files.check() == []
    (tmp_path / "SCV_CRM__API_KEY").write_text("one\n")  # the value it already has
    assert files.check() == []
    (tmp_path / "SCV_CRM__API_KEY").write_text("two\n")
    assert files.check() == ["SCV_CRM__API_KEY"]
    assert [section.api_key.get_secret_value() for section in seen] == ["two"]
    assert seen[0].webhook_secret == CrmSettings().webhook_secret  # the rest as it was
    (tmp_path / "SCV_BILLING__API_KEY").write_text("nobody watches billing")
    assert files.check() == []


def test_an_optional_secret_whose_file_is_removed_is_unset(tmp_path: Path) -> None:
    files = SecretFiles(tmp_path)
    seen: list[CrmSettings] = []
    previous = tmp_path / "SCV_CRM__WEBHOOK_SECRET_PREVIOUS"
    previous.write_text("old")
    files.watch(("crm",), CrmSettings(webhook_secret_previous=SecretStr("old")), seen.append)
    previous.unlink()
    assert files.check() == ["SCV_CRM__WEBHOOK_SECRET_PREVIOUS"]
    assert seen[-1].webhook_secret_previous is None
    assert seen[-1].webhook_secrets() == (CrmSettings().webhook_secret,)


def test_sections_nested_deeper_are_watched_by_their_path(tmp_path: Path) -> None:
    # The shape a per-tenant section would have: SCV_TENANTS__ACME__BILLING__API_KEY.
    files = SecretFiles(tmp_path)
    seen: list[BillingSettings] = []
    files.watch(("tenants", "acme", "billing"), BillingSettings(), seen.append)
    (tmp_path / "SCV_TENANTS__ACME__BILLING__API_KEY").write_text("sk_acme_2")
    assert files.check() == ["SCV_TENANTS__ACME__BILLING__API_KEY"]
    assert seen[-1].api_key.get_secret_value() == "sk_acme_2"


async def test_the_next_upstream_call_sends_the_reloaded_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[str] = []

    def billing(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        return httpx.Response(404, json={"error": {"type": "invalid_request_error"}})

    (tmp_path / "SCV_BILLING__API_KEY").write_text("sk_live_first")
    settings = Settings(billing=BillingSettings(api_key=SecretStr("sk_live_first")))
    files = SecretFiles(tmp_path)
    async with AsyncExitStack() as stack:
        adapters = await build_adapters(
            settings,
            stack,
            transports={Source.BILLING: httpx.MockTransport(billing)},
            secret_files=files,
        )
        adapter = adapters[Source.BILLING]
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer(BillingCustomerId("cus_1"))  # type: ignore[attr-defined]
        (tmp_path / "SCV_BILLING__API_KEY").write_text("sk_live_second")
        with caplog.at_level("INFO"):
            assert files.check() == ["SCV_BILLING__API_KEY"]
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer(BillingCustomerId("cus_1"))  # type: ignore[attr-defined]
    assert sent == ["Bearer sk_live_first", "Bearer sk_live_second"]
    # The setting is named in the log, its value never.
    assert [
        getattr(r, "setting", None) for r in caplog.records if r.name == "app.secrets.files"
    ] == ["SCV_BILLING__API_KEY"]
    assert all("sk_live_second" not in str(record.__dict__) for record in caplog.records)
