"""Which engine carries live changes, from the settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.live.settings import LiveSettings


def test_postgres_unless_a_redis_is_named() -> None:
    assert LiveSettings().chosen_backend() == "postgres"
    with_redis = LiveSettings(redis_url=SecretStr("redis://cache:6379/0"))
    assert with_redis.chosen_backend() == "redis"
    assert LiveSettings(redis_url=SecretStr("redis://x"), backend="postgres").chosen_backend() == (
        "postgres"
    )


def test_a_channel_name_must_be_a_plain_identifier() -> None:
    with pytest.raises(ValidationError):
        LiveSettings(channel="scv live; drop table")
