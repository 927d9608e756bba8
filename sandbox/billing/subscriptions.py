"""Billing's subscription update (``POST /v1/subscriptions/{id}``), honouring Stripe's
``Idempotency-Key``.

Only ``cancel_at_period_end`` is taken (``true`` or ``false``), as the gateway asks no more
of it; other parameters are refused as Stripe refuses unknown ones. The change is sent as a
``customer.subscription.updated`` event.

Idempotency as Stripe keeps it: the first answer to a key is stored with the request's
parameters; the same key with the same parameters answers that first result again (status
and body, with ``Idempotent-Replayed: true``) and changes nothing; the same key with other
parameters is refused with Stripe's ``idempotency_error``. Keys are kept for the sandbox's
life (Stripe keeps them 24 hours).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.billing.writes import read_parameters, stripe_event
from sandbox.openapi import Operation, ref
from sandbox.records import BillingStore, Subscription
from sandbox.responses import JSON, JsonResponse, VendorError

#: Stripe's limit on an idempotency key's length.
MAX_KEY_LENGTH = 255
_BOOLEANS = {"true": True, "false": False}


def _error(status: int, error_type: str, message: str, param: str | None = None) -> VendorError:
    body: JSON = {"type": error_type, "message": message}
    if param is not None:
        body["param"] = param
    return VendorError(status, {"error": body})


@dataclass(frozen=True, slots=True)
class _Remembered:
    parameters: dict[str, str]
    status: int
    body: JSON


class SubscriptionWrites:
    """``POST /v1/subscriptions/{id}`` over one store, with its idempotency keys."""

    def __init__(
        self,
        store: BillingStore,
        emit: Callable[[JSON], None],
        render_subscription: Callable[[Subscription], JSON],
    ) -> None:
        self.store = store
        self.emit = emit
        self.render_subscription = render_subscription
        self.keys: dict[str, _Remembered] = {}

    def routes(self) -> list[Route]:
        """The update route."""
        return [Route("/v1/subscriptions/{id}", self.update_subscription, methods=["POST"])]

    async def update_subscription(self, request: Request) -> Response:
        """Set ``cancel_at_period_end``; a known idempotency key answers its first result."""
        parameters = await read_parameters(request)
        key = request.headers.get("idempotency-key")
        if key is not None:
            if not key or len(key) > MAX_KEY_LENGTH:
                raise _error(400, "invalid_request_error", "Invalid idempotency key")
            remembered = self.keys.get(key)
            if remembered is not None:
                if remembered.parameters != parameters:
                    raise _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                return JsonResponse(
                    remembered.body,
                    status_code=remembered.status,
                    headers={"Idempotent-Replayed": "true"},
                )
        try:
            status, body = 200, self._update(request.path_params["id"], parameters)
        except VendorError as exc:
            # Stripe stores errors too: a retry with the key gets the same refusal.
            status, body = exc.status, exc.body
        if key is not None:
            self.keys[key] = _Remembered(dict(parameters), status, body)
        return JsonResponse(body, status_code=status)

    def _update(self, subscription_id: str, parameters: dict[str, str]) -> JSON:
        subscription = self.store.subscriptions.get(subscription_id)
        if subscription is None:
            raise _error(
                404,
                "invalid_request_error",
                f"No such subscription: '{subscription_id}'",
                "id",
            )
        for name in parameters:
            if name != "cancel_at_period_end":
                raise _error(
                    400, "invalid_request_error", f"Received unknown parameter: {name}", name
                )
        wanted = parameters.get("cancel_at_period_end")
        if wanted is None:
            return self.render_subscription(subscription)
        if wanted not in _BOOLEANS:
            raise _error(
                400, "invalid_request_error", "Invalid boolean: " + wanted, "cancel_at_period_end"
            )
        if subscription.status == "canceled":
            raise _error(
                400,
                "invalid_request_error",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        before = subscription.cancel_at_period_end
        value = _BOOLEANS[wanted]
        self.store.subscriptions.update(subscription_id, lambda row: _set_cancel(row, value))
        rendered = self.render_subscription(subscription)
        if before != value:
            previous: JSON = {"cancel_at_period_end": before}
            self.emit(stripe_event("customer.subscription.updated", rendered, previous))
        return rendered


def _set_cancel(subscription: Subscription, value: bool) -> None:
    subscription.cancel_at_period_end = value


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/subscriptions/{id}",
        "Update a subscription: cancel_at_period_end=true|false (form-encoded or JSON); "
        "honours Idempotency-Key; emits customer.subscription.updated",
        {
            200: ("The subscription", ref("Subscription")),
            400: ("Unknown parameter, or an idempotency key reused with others", ref("Error")),
            401: ("Missing or wrong API key", ref("Error")),
            404: ("No such subscription", ref("Error")),
        },
    ),
)
