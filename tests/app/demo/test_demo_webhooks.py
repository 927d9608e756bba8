"""The demo's webhook wiring: where the sandbox posts, and the banner's CRM change example."""

from __future__ import annotations

import shlex

from app.demo.runner import banner, crm_change_example, gateway_webhook_url
from app.settings import Settings


def test_the_sandbox_posts_to_the_gateways_webhooks() -> None:
    assert gateway_webhook_url(Settings(port=8123)) == "http://127.0.0.1:8123/webhooks"


def test_a_gateway_on_every_interface_is_reached_over_loopback() -> None:
    url = gateway_webhook_url(Settings(host="0.0.0.0", port=8000))

    assert url == "http://127.0.0.1:8000/webhooks"


def test_the_crm_change_example_is_a_runnable_patch_of_adas_contact() -> None:
    words = shlex.split(crm_change_example("http://127.0.0.1:8100").replace("\\\n", " "))

    assert words[:4] == ["curl", "-s", "-X", "PATCH"]
    assert words[4] == "http://127.0.0.1:8100/crm/crm/v3/objects/contacts/1001"
    assert words[-1] == '{"properties": {"email": "ada@analytical-engine.example"}}'


def test_the_banner_shows_the_crm_change_when_the_sandbox_is_known() -> None:
    settings = Settings()

    assert "PATCH" in banner(settings, "token", "http://127.0.0.1:8100")
    assert "PATCH" not in banner(settings, "token")
