"""Webhook secrets rotate with no refused delivery: two are valid during the window, and a
secret file replaced is taken up while the receiver runs."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from pydantic import SecretStr

from adapters.crm.settings import CrmSettings
from app.secrets.files import SecretFiles
from app.store.customers import Store
from app.webhooks.settings import WebhookSettings
from kernel.models import Source
from tests.app.webhooks.webhooks_kit import Gateway, hubspot_change, link_ada

OLD, NEW = "hubspot-secret-old", "hubspot-secret-new"


async def test_the_previous_secret_is_accepted_until_it_is_removed(store: Store) -> None:
    await link_ada(store)
    rotating = CrmSettings(webhook_secret=SecretStr(NEW), webhook_secret_previous=SecretStr(OLD))
    gateway = Gateway(store, WebhookSettings(), sections={Source.CRM: rotating})
    async with gateway.http:
        by_new = await gateway.deliver(
            "crm", [hubspot_change(1, "email", "a@new.example")], secret=NEW
        )
        by_old = await gateway.deliver(
            "crm", [hubspot_change(2, "email", "a@old.example")], secret=OLD
        )
        by_other = await gateway.deliver(
            "crm", [hubspot_change(3, "email", "x@x.example")], secret="other"
        )
        # The window closes: the previous secret is gone from the section.
        gateway.receiver.use_section(Source.CRM, CrmSettings(webhook_secret=SecretStr(NEW)))
        after = await gateway.deliver(
            "crm", [hubspot_change(4, "email", "a@late.example")], secret=OLD
        )
    assert (by_new.status_code, by_old.status_code) == (200, 200)
    assert by_other.status_code == 401
    assert after.status_code == 401
    assert (
        gateway.count("scv_webhook_deliveries_rejected_total", source="CRM", reason="bad_signature")
        == 2
    )


async def test_a_secret_file_replaced_is_used_without_a_restart(
    store: Store, tmp_path: Path
) -> None:
    await link_ada(store)
    (tmp_path / "SCV_CRM__WEBHOOK_SECRET").write_text(OLD)
    section = CrmSettings(webhook_secret=SecretStr(OLD))
    gateway = Gateway(store, WebhookSettings(), sections={Source.CRM: section})
    files = SecretFiles(tmp_path)
    files.watch(("crm",), section, partial(gateway.receiver.use_section, Source.CRM))
    async with gateway.http:
        assert (
            await gateway.deliver("crm", [hubspot_change(1, "email", "a@1.example")], secret=OLD)
        ).status_code == 200
        (tmp_path / "SCV_CRM__WEBHOOK_SECRET").write_text(NEW + "\n")
        (tmp_path / "SCV_CRM__WEBHOOK_SECRET_PREVIOUS").write_text(OLD)
        assert sorted(files.check()) == [
            "SCV_CRM__WEBHOOK_SECRET",
            "SCV_CRM__WEBHOOK_SECRET_PREVIOUS",
        ]
        assert files.check() == []  # nothing changed since
        by_new = await gateway.deliver(
            "crm", [hubspot_change(2, "email", "a@2.example")], secret=NEW
        )
        by_old = await gateway.deliver(
            "crm", [hubspot_change(3, "email", "a@3.example")], secret=OLD
        )
    assert (by_new.status_code, by_old.status_code) == (200, 200)
