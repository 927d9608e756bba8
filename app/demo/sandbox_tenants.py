"""The sandbox's other accounts as tenants of the demo: what the sandbox says, read back.

The sandbox serves another client's account of every API (globex's) and says, as an
operator would write them, the settings that make it a tenant of the gateway
(``SCV_TENANCY__TENANTS``, ``SCV_TENANTS__GLOBEX__BILLING__BASE_URL``, ``__API_KEY``,
``__WEBHOOK_SECRET``): printed once it serves, and written to the file ``scv demo`` names
with ``--environment-file``. The gateway imports nothing of the sandbox (the outside world),
so it reads them here, by name, as settings; the keys live in the sandbox only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.settings import RateLimitSettings
from app.settings import Settings
from app.tenancy.settings import TenancySettings
from app.tenancy.sources import TenantSources
from kernel.tenancy import TenantId, tenant_id

_TENANTS = "SCV_TENANTS__"
_SERVED = "SCV_TENANCY__TENANTS"


def read_environment_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of ``path`` (the sandbox's ``--environment-file``)."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value
    return found


def with_sandbox_tenants(settings: Settings, environment: Mapping[str, str]) -> Settings:
    """``settings`` also serving each tenant ``environment`` names, with its own source
    sections from it (refused as any setting is when one is not the gateway's). The sandbox
    is no vendor: its rate limits are lifted, as ``with_sandbox_port`` does for the default
    tenant's."""
    sections: dict[str, dict[str, dict[str, Any]]] = {}
    for name, value in environment.items():
        if not name.startswith(_TENANTS):
            continue
        tenant, source, field = name[len(_TENANTS) :].lower().split("__", 2)
        sections.setdefault(tenant, {}).setdefault(source, {})[field] = value
    named = [tenant_id(each) for each in json.loads(environment.get(_SERVED, "[]"))]
    served = tuple(dict.fromkeys((*settings.tenancy.tenants, *named)))
    tenants = dict(settings.tenants)
    for name, own in sections.items():
        for section in own.values():
            section["rate_limit"] = RateLimitSettings().model_dump()
        tenants[TenantId(tenant_id(name))] = TenantSources.model_validate(own)
    tenancy = TenancySettings(
        tenants=served,
        default_tenant=settings.tenancy.default_tenant,
        header=settings.tenancy.header,
    )
    return settings.model_copy(update={"tenancy": tenancy, "tenants": tenants})


#: Where ``scv demo`` has the sandbox write its other accounts' settings (under data_dir).
SANDBOX_TENANTS_FILE = "sandbox-tenants.env"


def with_demo_tenants(settings: Settings) -> Settings:
    """``settings`` also serving the tenants of the demo's sandbox, when ``scv demo`` ran
    with this data directory (``scv token --tenant globex`` mints for a tenant the demo
    serves); as they are otherwise."""
    written = settings.data_dir.resolve() / SANDBOX_TENANTS_FILE
    if not written.is_file():
        return settings
    return with_sandbox_tenants(settings, read_environment_file(written))
