"""``scv ivr-call``: play a call on the sandbox IVR and hand it over to the gateway.

The sandbox IVR verifies the caller and answers a signed handoff (``POST
/_sandbox/calls``); this posts it to the gateway's ``POST /ivr/handoffs`` with an ``ivr``
bearer token, as a real IVR would, and says how an agent claims the call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from dataclasses import dataclass
from typing import Any, cast

import httpx

from app.cli.environment import existing_demo_keys, gateway_url, load_settings, served_tenant


class IvrCallError(Exception):
    """The call could not be played or handed over; the message says where and why."""


@dataclass(frozen=True, slots=True)
class IvrCall:
    """A call handed over: its contact id and the interaction the gateway opened."""

    contact_id: str
    interaction: dict[str, Any]


async def play_ivr_call(
    http: httpx.AsyncClient,
    *,
    ivr_url: str,
    gateway_url: str,
    ivr_token: str,
    call: dict[str, Any],
) -> IvrCall:
    """Ask the sandbox IVR at ``ivr_url`` to play ``call``, then post its handoff."""
    played = await http.post(f"{ivr_url.rstrip('/')}/_sandbox/calls", json=call)
    if played.status_code != 201:
        raise IvrCallError(
            f"the sandbox IVR refused the call ({played.status_code}): {played.text}"
        )
    handoff = played.json()["handoff"]
    posted = await http.post(
        f"{gateway_url.rstrip('/')}/ivr/handoffs",
        json={"handoff": handoff},
        headers={"Authorization": f"Bearer {ivr_token}"},
    )
    if posted.status_code != 201:
        raise IvrCallError(f"the gateway refused the handoff ({posted.status_code}): {posted.text}")
    interaction: dict[str, Any] = posted.json()["interaction"]
    return IvrCall(contact_id=str(interaction["contactId"]), interaction=interaction)


def claim_instructions(call: IvrCall, gateway_url: str, tenant: str | None = None) -> str:
    """What to print: the call, and the curl line with which an agent (of ``tenant``, when
    it is not the default one) claims it."""
    document = (
        "mutation($c: ID!) { claimInteraction(contactId: $c) { token "
        "interaction { state verification { level method } } } }"
    )
    body = json.dumps({"query": document, "variables": {"c": call.contact_id}})
    level = call.interaction["verification"]["level"]
    return "\n".join(
        [
            f"contact {call.contact_id} handed over (verification {level}).",
            "An agent claims it (AGENT_TOKEN: .venv/bin/scv token --role agent --sub agent-1"
            + (f" --tenant {tenant}" if tenant else "")
            + "):",
            f"  curl -s {shlex.quote(gateway_url.rstrip('/') + '/graphql')} "
            '-H "Authorization: Bearer $AGENT_TOKEN" -H "Content-Type: application/json" '
            f"-d {shlex.quote(body)}",
            "then sends the grant's token as X-Interaction-Token beside its bearer token.",
        ]
    )


def cmd_ivr_call(args: argparse.Namespace) -> None:
    """``scv ivr-call``: play the call, hand it over, print how an agent claims it."""
    from adapters.settings import HttpSourceSettings
    from app.demo.sandbox_tenants import with_demo_tenants
    from app.security.demo_keys import mint_token
    from kernel.models import Source

    settings = with_demo_tenants(load_settings())  # and the demo's tenants (globex)
    tenant = served_tenant(settings, args.tenant, "ivr-call")
    # The tenant's own IVR account: its calls are handed over as that tenant's.
    section = settings.tenant_source(tenant, Source.IVR)
    if args.ivr is None and not isinstance(section, HttpSourceSettings):
        sys.exit(f"ivr-call: tenant {tenant} has no IVR configured (give --ivr URL)")
    gateway = args.gateway or gateway_url(settings)
    ivr_url = args.ivr or cast(HttpSourceSettings, section).base_url
    token = mint_token(
        existing_demo_keys(settings),
        settings.auth,
        subject="ivr-sandbox",
        role="ivr",
        tenants=[tenant],
    )
    call: dict[str, object] = {
        "auth_method": args.auth_method,
        "auth_result": args.auth_result,
        "auth_score": args.auth_score,
        "audience": settings.handoff.audience,
    }
    call.update({"customer": args.customer} if args.customer else {"phone": args.phone})

    async def play() -> str:
        async with httpx.AsyncClient(timeout=10.0) as http:
            played = await play_ivr_call(
                http, ivr_url=ivr_url, gateway_url=gateway, ivr_token=token, call=call
            )
        return claim_instructions(
            played, gateway, tenant if tenant != settings.tenancy.default_tenant else None
        )

    try:
        print(asyncio.run(play()))
    except IvrCallError as exc:
        sys.exit(f"ivr-call failed: {exc}")
    except httpx.RequestError as exc:
        # httpx's own words ("All connection attempts failed") name no place: say which.
        sys.exit(f"ivr-call failed: cannot reach {exc.request.url}: {exc or type(exc).__name__}")
    except httpx.HTTPError as exc:
        sys.exit(f"ivr-call failed: {exc}")
