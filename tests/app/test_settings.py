"""Settings: environment over an optional TOML file, with clear refusals of bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from adapters.registry import SOURCES
from adapters.taxonomy import Taxonomy
from app.settings import Settings
from kernel.models import Source, TicketStatus


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SCV_"):
            monkeypatch.delenv(name)


def test_sections_are_set_with_double_underscores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_BILLING__BASE_URL", "https://billing.example")
    monkeypatch.setenv("SCV_SUPPORT__READ_TIMEOUT", "0.5")
    settings = Settings()
    assert settings.billing.base_url == "https://billing.example"
    assert settings.support.read_timeout == 0.5


def test_a_toml_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "scv.toml"
    config.write_text(
        'port = 9000\n[crm]\nbase_url = "https://crm.example"\n[identity]\ndefault_region = "GB"\n'
    )
    monkeypatch.setenv("SCV_CONFIG_FILE", str(config))
    monkeypatch.setenv("SCV_PORT", "9100")
    settings = Settings()
    assert settings.crm.base_url == "https://crm.example"
    assert settings.identity.default_region == "GB"
    assert settings.port == 9100


def test_api_keys_never_show_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_BILLING__API_KEY", "sk_live_very_secret")
    assert "sk_live_very_secret" not in repr(Settings())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCV_PORT", "70000"),
        ("SCV_CRM__PAGE_SIZE", "500"),
        ("SCV_IDENTITY__MATCH_RULES", '["xref", "shoe-size"]'),
        ("SCV_UNKNOWN_SETTING", "1"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_taxonomy_map_to_a_word_that_is_not_canonical_fails_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_SUPPORT__TICKET_STATUS", '{"open": "OPENISH"}')
    settings = Settings()
    with pytest.raises(ValueError, match="OPENISH"):
        Taxonomy(Source.SUPPORT, "ticket_status", settings.support.ticket_status, TicketStatus)


def test_a_taxonomy_map_from_settings_maps_a_new_vendor_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_SUPPORT__TICKET_STATUS", '{"escalated": "OPEN"}')
    mapping = Settings().support.ticket_status
    taxonomy = Taxonomy(Source.SUPPORT, "ticket_status", mapping, TicketStatus)
    assert taxonomy.map("escalated") is TicketStatus.OPEN
    assert taxonomy.map("open") is TicketStatus.UNKNOWN


def test_a_misspelt_section_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_BILLING__BASE_ULR", "https://billing.example")
    with pytest.raises(ValidationError, match="base_ulr"):
        Settings()


def test_the_system_of_record_of_one_fact_is_configured_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_IDENTITY__SYSTEM_OF_RECORD__EMAIL", "BILLING")
    chosen = Settings().identity.system_of_record.as_mapping()
    assert chosen["email"] is Source.BILLING
    assert (chosen["phone"], chosen["balance"], chosen["tickets"]) == (
        Source.CRM,
        Source.BILLING,
        Source.SUPPORT,
    )


def test_a_system_of_record_that_is_no_source_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_IDENTITY__SYSTEM_OF_RECORD", '{"phone": "LEDGER"}')
    with pytest.raises(ValidationError, match="system_of_record"):
        Settings()


def test_every_registered_source_has_a_section_of_its_own_model() -> None:
    settings = Settings()

    for spec in SOURCES:
        section = settings.source(spec.source)
        assert type(section) is spec.settings_model
        assert section is getattr(settings, spec.name)


def test_a_source_section_is_set_by_its_registered_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # A setting every section has, however its source is reached.
    for number, spec in enumerate(SOURCES, start=1):
        monkeypatch.setenv(f"SCV_{spec.name.upper()}__BREAKER__OPEN_SECONDS", str(number))

    settings = Settings()

    for number, spec in enumerate(SOURCES, start=1):
        assert settings.source(spec.source).breaker.open_seconds == number


def test_an_http_section_is_set_by_its_registered_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_IVR__BASE_URL", "https://ivr.example")
    monkeypatch.setenv("SCV_ORDERS__URL", "sqlite+aiosqlite:///orders.sqlite")

    settings = Settings()

    assert settings.http_source(Source.IVR).base_url == "https://ivr.example"
    with pytest.raises(TypeError, match="ORDERS is not reached over HTTP"):
        settings.http_source(Source.ORDERS)


def test_a_webhook_secret_is_its_sources_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_CRM__WEBHOOK_SECRET", "hubspot-app-secret")

    settings = Settings()

    assert settings.crm.webhook_secret.get_secret_value() == "hubspot-app-secret"
    assert not settings.crm.webhook_secret_is_default()
    assert settings.billing.webhook_secret_is_default()


def test_an_old_webhook_secret_name_is_refused_saying_its_new_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_WEBHOOKS__BILLING_SECRET", "whsec_live_value")

    with pytest.raises(ValidationError) as refused:
        Settings()

    message = str(refused.value)
    assert "SCV_WEBHOOKS__BILLING_SECRET is now SCV_BILLING__WEBHOOK_SECRET" in message
    assert "whsec_live_value" not in message


def test_secret_files_are_settings_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a container platform mounts secrets: a file per setting, named as its variable.
    (tmp_path / "SCV_DATABASE_URL").write_text("postgresql://scv:pw@db/scv\n")
    (tmp_path / "SCV_AUTH__ISSUER").write_text("from-file")
    (tmp_path / "SCV_CRM__API_KEY").write_text("crm-key-from-file\n")
    (tmp_path / "interaction-signing-key.pem").write_text("not a setting: left alone")
    monkeypatch.setenv("SCV_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("SCV_AUTH__ISSUER", "from-environment")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://scv:pw@db/scv"
    assert settings.crm.api_key.get_secret_value() == "crm-key-from-file"
    assert settings.auth.issuer == "from-environment"


def test_a_misspelt_secret_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "SCV_DATABSE_URL").write_text("postgresql://scv:pw@db/scv")
    monkeypatch.setenv("SCV_SECRETS_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="SCV_DATABSE_URL"):
        Settings()


def test_a_secrets_dir_that_does_not_exist_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_SECRETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="does not exist"):
        Settings()
