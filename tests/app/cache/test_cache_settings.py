"""The cache's settings section: set by environment, bad values refused without echoing them."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from adapters.registry import SOURCES
from app.settings import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCV_"):
            monkeypatch.delenv(name)


def test_lifetimes_are_set_per_source_and_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_CACHE__BILLING__INVOICES__FRESH_SECONDS", "5")
    monkeypatch.setenv("SCV_CACHE__SUPPORT__TICKETS__STALE_SECONDS", "7")
    settings = Settings()
    assert settings.cache.billing.invoices.fresh_seconds == 5
    assert settings.cache.support.tickets.stale_seconds == 7
    assert settings.cache.billing.customer.fresh_seconds == 30  # the others keep defaults


def test_a_redis_url_and_an_encryption_key_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    monkeypatch.setenv("SCV_CACHE__URL", "redis://:hunter2@cache.internal:6379/0")
    monkeypatch.setenv("SCV_CACHE__ENCRYPTION_KEY", key)
    settings = Settings()
    assert settings.cache.encryption_key_bytes() == b"k" * 32
    assert "hunter2" not in repr(settings)
    assert key not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCV_CACHE__URL", "http://user:hunter2@cache.internal"),
        ("SCV_CACHE__ENCRYPTION_KEY", "hunter2-not-base64!"),
        ("SCV_CACHE__ENCRYPTION_KEY", base64.b64encode(b"hunter2").decode()),
        ("SCV_CACHE__LOCAL_MAX_ENTRIES", "0"),
        ("SCV_CACHE__CRM__CONTACT__FRESH_SECONDS", "-1"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_not_the_value(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as raised:
        Settings()
    # What `scv` prints of a refusal (app/cli/environment.py): where, and why.
    message = "\n".join(f"{error['loc']}: {error['msg']}" for error in raised.value.errors())
    assert "cache" in message
    assert "hunter2" not in message


def test_every_cached_source_has_its_own_lifetimes_and_the_others_none() -> None:
    settings = Settings()

    for spec in SOURCES:
        lifetimes = settings.cache.lifetimes(spec.source)
        if spec.cache is None:
            assert lifetimes is None
        else:
            assert type(lifetimes) is spec.cache.lifetimes


def test_stale_if_slow_budgets_are_set_per_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_CACHE__STALE_IF_SLOW__AGENT", "0.3")
    monkeypatch.setenv("SCV_CACHE__STALE_IF_SLOW__ANALYST", "2")
    budgets = Settings().cache.stale_if_slow
    assert [budgets.budget(role) for role in ("agent", "analyst", "ivr")] == [0.3, 2, 0.15]


def test_a_budget_that_is_not_positive_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCV_CACHE__STALE_IF_SLOW__AGENT", "0")
    with pytest.raises(ValidationError, match=r"stale_if_slow\.agent"):
        Settings()
