"""What every ``scv`` command reads the same way: its settings, where the gateway is, the
data directory and its demo keys, and the checks of the arguments they take.

Every command reads ``SCV_HOST``/``SCV_PORT`` through ``gateway_url`` and the data
directory (``SCV_DATA_DIR``, ``.scv`` under the folder it runs from) through
``data_dir``; only the gateway (``scv serve``, ``scv demo``) creates demo keys there.
A command that mints tokens with them (``scv token``, ``scv ivr-call``) refuses, naming the
directory, when they are not there: run from another folder it would otherwise sign with
keys of its own that the gateway rejects.
"""

from __future__ import annotations

import argparse
import errno
import math
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import SettingsError

from adapters.registry import SOURCES
from adapters.settings import RateLimitSettings, SandboxPlace
from app.security.demo_keys import DemoKeys, demo_key_directory, ensure_demo_keys
from app.settings import Settings
from kernel.tenancy import TenantId, tenant_id

N = TypeVar("N", int, float)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``SCV_CONFIG_FILE``), or a clear exit."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        sys.exit("invalid settings:\n" + "\n".join(lines))
    except SettingsError as exc:
        # pydantic-settings' own refusals: a named SCV_SECRETS_DIR that does not exist.
        sys.exit(f"invalid settings: {exc}")


def gateway_url(settings: Settings) -> str:
    """Where this machine reaches the gateway ``settings`` describe (``SCV_HOST``:``SCV_PORT``);
    a gateway listening on every address is reached on loopback."""
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def with_sandbox_port(
    settings: Settings, port: int, *, database_url: str | None = None
) -> Settings:
    """``settings`` with every source pointed at the sandbox on ``port`` (and the sandbox's
    databases, if it has them, on the PostgreSQL server at ``database_url``).

    The sandbox is no vendor: it has no rate limit, so the vendors' (``rate_limit``) are
    lifted, or the demo's sync would page the IVR at Amazon Connect's 2 calls a second.
    """
    place = SandboxPlace(http_url=f"http://127.0.0.1:{port}", database_url=database_url)
    update = {
        spec.name: spec.in_sandbox(settings.source(spec.source), place).model_copy(
            update={"rate_limit": RateLimitSettings()}
        )
        for spec in SOURCES
    }
    return settings.model_copy(update=update)


def data_dir(settings: Settings) -> Path:
    """The data directory, absolute (``SCV_DATA_DIR`` is read relative to the current folder)."""
    return settings.data_dir.resolve()


def existing_demo_keys(settings: Settings) -> DemoKeys:
    """The gateway's demo keys in the data directory, or a clear exit if there are none."""
    directory = data_dir(settings)
    if not demo_key_directory(directory).paths():
        sys.exit(
            f"no demo keys in {directory}: the gateway makes them when it starts in demo mode "
            "(make run); run this from the project's folder, or set SCV_DATA_DIR to the "
            "gateway's data directory"
        )
    return ensure_demo_keys(directory)


def port_free_or_exit(host: str, port: int, setting: str) -> None:
    """Exit with one line when ``port`` on ``host`` is taken, naming ``setting`` to change."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            sys.exit(f"port {port} on {host} {reason}: choose another with {setting}")


def _argument(
    convert: Callable[[str], N], kind: str, within: Callable[[N], bool], bounds: str
) -> Callable[[str], N]:
    """An argparse type: ``raw`` as ``convert`` reads it, refused unless ``within`` holds.

    Refused as "not <kind>: <raw>" when it does not convert, as "must be <bounds>, not
    <raw>" when it is out of bounds (argparse prints both as a usage error, exit 2).
    """

    def parse(raw: str) -> N:
        try:
            value = convert(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {kind}: {raw}") from None
        if not within(value):
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {raw}")
        return value

    return parse


#: An argument of whole seconds, at least one.
positive_seconds = _argument(
    int, "a whole number of seconds", lambda v: v >= 1, "at least 1 second"
)
#: An argument of seconds that may be fractional, above zero.
positive_number = _argument(float, "a number", lambda v: 0 < v < math.inf, "above 0")
#: An argument between 0 and 1.
share = _argument(float, "a number", lambda v: 0 <= v <= 1, "between 0 and 1")
#: A whole number, at least one.
count = _argument(int, "a whole number", lambda v: v >= 1, "at least 1")
#: A TCP port, 1..65535.
port = _argument(int, "a port number", lambda v: 1 <= v <= 65535, "between 1 and 65535")


def http_url(raw: str) -> str:
    """An http(s) URL with a host."""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {raw}")
    return raw


def word(raw: str) -> str:
    """A non-empty printable value without spaces (a token's subject)."""
    if not raw or not raw.isprintable() or any(ch.isspace() for ch in raw):
        raise argparse.ArgumentTypeError(f"must be printable, with no spaces: {raw!r}")
    return raw


def tenant_name(raw: str) -> str:
    """A tenant's name (``kernel.tenancy``): lower-case letters, digits and ``_``."""
    try:
        return tenant_id(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}: {raw!r}") from exc


def add_tenant_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--tenant NAME`` on ``parser`` (``served_tenant`` reads it)."""
    parser.add_argument(
        "--tenant",
        type=tenant_name,
        default=None,
        help=f"{what} (SCV_TENANCY__DEFAULT_TENANT, acme unless configured)",
    )


def served_tenant(settings: Settings, name: str | None, command: str) -> TenantId:
    """``name`` (the default tenant when None), or exit naming the tenants served."""
    tenant = tenant_id(name) if name else settings.tenancy.default_tenant
    if tenant not in settings.tenancy.tenants:
        served = ", ".join(settings.tenancy.tenants)
        sys.exit(
            f"{command}: the gateway serves no tenant {tenant!r} (SCV_TENANCY__TENANTS: {served})"
        )
    return tenant
