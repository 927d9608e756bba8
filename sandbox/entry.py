"""What a sandbox system declares of itself: how it is served or created, and how the gateway
is pointed at it.

Each system declares one ``SandboxSystem`` in its own folder (``sandbox/<name>/system.py``'s
``SYSTEM``); ``sandbox/registry.py`` lists them. The server, the command line, ``scv demo``
and the benchmarks start and point the gateway at every registered system by iterating the
registry, so none of them names a system, and a new one is its folder and one line there.

A system is served over HTTP under ``/<name>`` (an API), or created once at start on what
the sandbox is given (``SandboxServers``: a PostgreSQL server, a folder for files), or both.
What it hands the gateway is environment variables (``SCV_<NAME>__...``): the sandbox is the
outside world and imports nothing of the gateway, so it speaks the gateway's settings only as
an operator would, by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette

from sandbox.control import SystemControl
from sandbox.records import Dataset
from sandbox.responses import VendorErrors


@dataclass(frozen=True, slots=True)
class SandboxServers:
    """What the sandbox is started beside, for the systems it creates rather than serves."""

    #: A PostgreSQL server the sandbox may create its databases on (an admin's URL).
    database_url: str | None = None
    #: A folder the sandbox may write its systems' files to.
    files_dir: Path | None = None


class CreateApp(Protocol):
    """How a system's app is made: over a dataset, counted and faulted through a control,
    checking one account's API key (its own default: the sandbox's shared account)."""

    def __call__(
        self, dataset: Dataset, control: SystemControl | None = None, *, api_key: str = ...
    ) -> Starlette:
        """The system's app over ``dataset`` for the account whose key is ``api_key``."""
        ...


@dataclass(frozen=True, slots=True)
class HttpSystem:
    """A system served over HTTP under ``/<name>`` of the sandbox's one port."""

    #: Its app; ``api_key=`` makes it for an account of its own (``sandbox/accounts.py``).
    create_app: CreateApp
    #: Its vendor's error bodies (the faults answer with them).
    errors: VendorErrors
    #: Tables its whole listings walk (identity sync, polling): sorted at start rather than
    #: on a benchmark's first request.
    listings: tuple[str, ...] = ()


#: Creates what a system keeps outside HTTP (a database, a file) from the dataset, on what it
#: is given; one line per thing made, for the console (none: it was given nowhere to).
Prepare = Callable[[Dataset, SandboxServers], Awaitable[list[str]]]

#: The gateway's settings, as environment variables, that point it at the system: given the
#: sandbox's HTTP base URL (``http://host:port``) and what it was started beside.
GatewayEnvironment = Callable[[str, SandboxServers], dict[str, str]]


def _nothing_prepared(dataset: Dataset, servers: SandboxServers) -> Awaitable[list[str]]:
    async def none() -> list[str]:
        return []

    return none()


@dataclass(frozen=True, slots=True)
class SandboxSystem:
    """One registered sandbox system."""

    #: Its name: its path (``/<name>``), its settings section (``SCV_<NAME>__...``).
    name: str
    gateway_environment: GatewayEnvironment
    #: None: not served over HTTP.
    http: HttpSystem | None = None
    prepare: Prepare = _nothing_prepared


def http_system(name: str, http: HttpSystem) -> SandboxSystem:
    """The entry of an API: served under ``/<name>``, the gateway pointed at it by its
    section's base URL (its key is the section's default: the sandbox's)."""

    def environment(http_url: str, servers: SandboxServers) -> dict[str, str]:
        return {f"SCV_{name.upper()}__BASE_URL": f"{http_url}/{name}"}

    return SandboxSystem(name=name, gateway_environment=environment, http=http)
