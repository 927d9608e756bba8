"""Live events as they travel between gateway instances: small JSON, ids and times only.

A PostgreSQL NOTIFY payload must stay under 8000 bytes; an event is a few hundred. No
personal value is ever in one: ids, source names, states and times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from kernel.interactions import InteractionState, InteractionView
from kernel.live import CustomerChanged, InteractionChanged, LiveEvent
from kernel.models import Source
from kernel.tenancy import TenantId


class UnreadableEvent(Exception):
    """A message on the channel that is not an event of this version (ignored, counted)."""


def encode(event: LiveEvent) -> str:
    """``event`` as the channel carries it."""
    if isinstance(event, CustomerChanged):
        body: dict[str, Any] = {
            "kind": "customer",
            "customer_id": event.customer_id,
            "sources": [source.value for source in event.sources],
            "at": event.at.isoformat(),
            "received_at": event.received_at,
            "links_changed": event.links_changed,
        }
    else:
        view = event.view
        body = {
            "kind": "interaction",
            "interaction_id": view.interaction_id,
            "contact_id": view.contact_id,
            "customer_id": view.customer_id,
            "state": view.state.value,
            "agent": view.agent,
            "level": int(view.level),
            "method": view.method,
            "result": view.result,
            "verified_at": view.verified_at.isoformat() if view.verified_at else None,
            "verified_by": view.verified_by,
            "tenant": view.tenant,
            "step": event.step,
            "at": event.at.isoformat(),
            "received_at": event.received_at,
        }
    return orjson.dumps(body).decode()


def decode(payload: str | bytes) -> LiveEvent:
    """The event a message carries; ``UnreadableEvent`` for anything else."""
    try:
        body = orjson.loads(payload)
        if body["kind"] == "customer":
            return CustomerChanged(
                customer_id=CustomerId(str(body["customer_id"])),
                sources=tuple(Source(name) for name in body["sources"]),
                at=datetime.fromisoformat(body["at"]),
                received_at=float(body["received_at"]),
                links_changed=bool(body["links_changed"]),
            )
        if body["kind"] == "interaction":
            verified_at = body["verified_at"]
            view = InteractionView(
                interaction_id=str(body["interaction_id"]),
                contact_id=str(body["contact_id"]),
                customer_id=CustomerId(str(body["customer_id"])),
                state=InteractionState(body["state"]),
                agent=_optional(body["agent"]),
                level=VerificationLevel(int(body["level"])),
                method=_optional(body["method"]),
                result=_optional(body["result"]),
                verified_at=datetime.fromisoformat(verified_at) if verified_at else None,
                verified_by=_optional(body["verified_by"]),
                tenant=_tenant(body.get("tenant")),
            )
            return InteractionChanged(
                view=view,
                step=str(body["step"]),
                at=datetime.fromisoformat(body["at"]),
                received_at=float(body["received_at"]),
            )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UnreadableEvent("not a live event") from exc
    raise UnreadableEvent("not a live event")


def _optional(value: object) -> str | None:
    return str(value) if value is not None else None


def _tenant(value: object) -> TenantId | None:
    return TenantId(str(value)) if value is not None else None
