"""The sandbox's other accounts: another client's account of every HTTP system.

A vendor serves many clients, each with its own account: its own records and its own API
keys, and webhooks signed with its own secrets. The sandbox's default account (each system
under ``/<system>``, its keys the systems' ``API_KEY``) is the gateway's default tenant's;
each account here is served beside it under ``/accounts/<name>/<system>``, over its own
dataset, and refuses any key but its own (a request with the default account's key is
answered 401, as a vendor answers a key of another account).

What it hands the gateway is the tenant's settings, by name, as an operator would write
them: ``SCV_TENANTS__<NAME>__<SYSTEM>__BASE_URL``, ``__API_KEY`` and ``__WEBHOOK_SECRET``,
and the tenant among those served (``SCV_TENANCY__TENANTS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sandbox.data.globex import GLOBEX, globex_dataset
from sandbox.records import Dataset

#: The default account's tenant in the gateway (its own default).
DEFAULT_TENANT = "acme"


@dataclass(frozen=True, slots=True)
class SandboxAccount:
    """One more account of the HTTP systems."""

    #: Its name: its path (``/accounts/<name>``) and its tenant in the gateway.
    name: str
    dataset: Callable[[int], Dataset]
    #: Its API key, by system (a system without one is not served to this account).
    api_keys: Mapping[str, str]
    #: Its webhook signing secrets, by system that sends webhooks.
    webhook_secrets: Mapping[str, str]

    @property
    def path(self) -> str:
        """Where its systems are served: ``<path>/<system>``."""
        return f"/accounts/{self.name}"


GLOBEX_ACCOUNT = SandboxAccount(
    name=GLOBEX,
    dataset=globex_dataset,
    api_keys={
        "billing": "sk_test_globex_sandbox",
        "crm": "pat-globex-crm",
        "support": "zd-globex-token",
        "ivr": "ivr-globex-key",
    },
    webhook_secrets={
        "billing": "whsec_globex_sandbox",
        "crm": "globex-sandbox-hubspot-client-secret",
        "support": "globex-sandbox-zendesk-signing-secret",
    },
)

#: Every account beyond the default one.
ACCOUNTS: tuple[SandboxAccount, ...] = (GLOBEX_ACCOUNT,)


def tenants_environment(http_url: str) -> dict[str, str]:
    """The gateway's settings that serve each account as a tenant of its own, its systems
    served at ``http_url`` (``http://host:port``)."""
    environment = {
        "SCV_TENANCY__TENANTS": json.dumps([DEFAULT_TENANT, *(each.name for each in ACCOUNTS)])
    }
    for account in ACCOUNTS:
        for system, key in account.api_keys.items():
            section = f"SCV_TENANTS__{account.name.upper()}__{system.upper()}__"
            environment[section + "BASE_URL"] = f"{http_url}{account.path}/{system}"
            environment[section + "API_KEY"] = key
            secret = account.webhook_secrets.get(system)
            if secret is not None:
                environment[section + "WEBHOOK_SECRET"] = secret
    return environment
