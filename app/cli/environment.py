"""What every ``scv`` command reads the same way: its settings, and where the gateway is."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from adapters.registry import SOURCES
from app.settings import Settings


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``SCV_CONFIG_FILE``), or a clear exit."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        sys.exit("invalid settings:\n" + "\n".join(lines))


def gateway_url(settings: Settings) -> str:
    """Where this machine reaches the gateway ``settings`` describe (``SCV_HOST``:``SCV_PORT``);
    a gateway listening on every address is reached on loopback."""
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def positive_seconds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {raw}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {raw}")
    return value


def with_sandbox_port(settings: Settings, port: int) -> Settings:
    """``settings`` with every source pointed at the sandbox on ``port``."""
    base = f"http://127.0.0.1:{port}"
    update = {
        name: getattr(settings, name).model_copy(update={"base_url": f"{base}/{name}"})
        for name in (spec.name for spec in SOURCES)
    }
    return settings.model_copy(update=update)
