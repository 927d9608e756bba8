"""``/_sandbox/webhooks``: where the sandbox sends its webhooks, set while it runs.

Tests start the sandbox before the gateway (whose port is not known yet), then point the
webhooks at it. Not authenticated, like the other ``/_sandbox`` routes; secrets can be
set but are never shown.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.control import describe_errors
from sandbox.responses import JSON, JsonResponse
from sandbox.webhooks import WEBHOOK_SYSTEMS, WebhookOutbox


class WebhookTarget(BaseModel):
    """The body of ``POST /_sandbox/webhooks``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    url: str | None = Field(
        pattern=r"^https?://\S+$",
        description="receiver base URL; each system posts to <url>/<system>; null: stop",
    )
    secrets: dict[str, str] = Field(
        default_factory=dict, description="signing secret by system (billing, crm, support)"
    )


def describe_outbox(outbox: WebhookOutbox) -> JSON:
    """The target of each system's webhooks and their delivery counts (no secrets)."""
    return {
        "url": outbox.url,
        "systems": {
            system: {"target": outbox.target(system), "deliveries": outbox.stats(system)}
            for system in WEBHOOK_SYSTEMS
        },
    }


def webhook_routes(outbox: WebhookOutbox) -> list[Route]:
    """``GET`` and ``POST /_sandbox/webhooks`` over ``outbox``."""

    async def show(request: Request) -> Response:
        return JsonResponse(describe_outbox(outbox))

    async def set_target(request: Request) -> Response:
        try:
            target = WebhookTarget.model_validate_json(await request.body() or b"null")
        except ValidationError as exc:
            return JsonResponse(
                {"error": "invalid webhook target", "message": describe_errors(exc.errors())},
                status_code=400,
            )
        unknown = sorted(set(target.secrets) - set(WEBHOOK_SYSTEMS))
        if unknown:
            return JsonResponse(
                {
                    "error": "invalid webhook target",
                    "message": f"secrets: unknown systems {unknown}; choose from "
                    f"{list(WEBHOOK_SYSTEMS)}",
                },
                status_code=400,
            )
        outbox.url = target.url
        outbox.secrets.update(target.secrets)
        return JsonResponse(describe_outbox(outbox))

    return [
        Route("/_sandbox/webhooks", show, methods=["GET"]),
        Route("/_sandbox/webhooks", set_target, methods=["POST"]),
    ]
