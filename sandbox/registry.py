"""The sandbox-system registry: every system the sandbox starts, one entry each.

An entry (``sandbox.entry.SandboxSystem``) is declared in its system's own folder; this
tuple only lists them, in the order the sandbox starts and prints them. Everything that starts
the sandbox or points the gateway at it (``sandbox/server.py``, ``sandbox/cli.py``, ``scv
demo``, ``bench/stack.py``) iterates it.
"""

from __future__ import annotations

from sandbox.billing.system import SYSTEM as BILLING
from sandbox.crm.system import SYSTEM as CRM
from sandbox.entry import SandboxServers, SandboxSystem
from sandbox.ivr.system import SYSTEM as IVR
from sandbox.orders.system import SYSTEM as ORDERS
from sandbox.support.system import SYSTEM as SUPPORT

#: Every sandbox system.
SANDBOX_SYSTEMS: tuple[SandboxSystem, ...] = (BILLING, CRM, SUPPORT, IVR, ORDERS)

#: The names of those served over HTTP (each under ``/<name>``; the faults' choices).
HTTP_SYSTEMS: tuple[str, ...] = tuple(each.name for each in SANDBOX_SYSTEMS if each.http)


def gateway_environment(http_url: str, servers: SandboxServers) -> dict[str, str]:
    """The gateway's environment variables that point it at every sandbox system, served at
    ``http_url`` and created on ``servers``."""
    environment: dict[str, str] = {}
    for system in SANDBOX_SYSTEMS:
        environment.update(system.gateway_environment(http_url, servers))
    return environment
