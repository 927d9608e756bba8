"""The CRM's write endpoint (update a contact) and the HubSpot webhook events it emits.

``PATCH /crm/v3/objects/contacts/{id}`` with ``{"properties": {"email": "..."}}`` as
HubSpot takes it; each property whose value changed is one ``contact.propertyChange`` event,
and the events of one update go in one webhook (HubSpot batches events in a JSON array).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.openapi import Operation, ref
from sandbox.records import CrmContact, CrmStore
from sandbox.responses import JSON, JsonResponse, VendorError, read_json_object
from sandbox.webhooks import WebhookOutbox

#: Properties HubSpot computes itself: a write naming one is refused.
READ_ONLY = frozenset({"createdate", "lastmodifieddate", "hs_object_id"})

#: Fixed ids of the (pretend) HubSpot account and app the webhooks come from.
PORTAL_ID = 62515
APP_ID = 1160452
SUBSCRIPTION_ID = 4000123


class UpdateBody(BaseModel):
    """``PATCH .../contacts/{id}``: property values are strings (or null to clear)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    properties: dict[str, str | None]


class CrmWrites:
    """``PATCH /crm/v3/objects/contacts/{id}`` over one store."""

    def __init__(
        self,
        store: CrmStore,
        outbox: WebhookOutbox,
        known_properties: Sequence[str],
        render_contact: Callable[[CrmContact, Sequence[str] | None], JSON],
        validation_error: Callable[[str], VendorError],
        not_found: Callable[[str], VendorError],
    ) -> None:
        # Rendering and errors live in ``sandbox.crm.shapes``; ``sandbox.crm.system``, which imports
        # this module, passes them in.
        self.store = store
        self.outbox = outbox
        self.known_properties = frozenset(known_properties)
        self.render_contact = render_contact
        self.validation_error = validation_error
        self.not_found = not_found
        # Event ids only need to be unique per delivery target; start somewhere random so
        # that two sandbox runs do not reuse each other's ids against the same gateway.
        self._event_ids = itertools.count(random.randrange(10**9, 10**12))

    def routes(self) -> list[Route]:
        """The write route."""
        return [
            Route("/crm/v3/objects/contacts", self.create_contact, methods=["POST"]),
            Route("/crm/v3/objects/contacts/{id}", self.update_contact, methods=["PATCH"]),
        ]

    async def create_contact(self, request: Request) -> Response:
        """Create a contact from its properties (HubSpot's ``POST .../contacts``): 201.

        Ids continue after the highest one, as HubSpot's grow. No webhook is emitted: the
        gateway subscribes to property changes, not to creations.
        """
        try:
            body = UpdateBody.model_validate(await read_json_object(request, self.validation_error))
        except ValidationError:
            raise self.validation_error(
                'Invalid input JSON: expected {"properties": {"<name>": "<string or null>"}}'
            ) from None
        for name in body.properties:
            if name in READ_ONLY:
                raise self.validation_error(f'Property "{name}" is read-only')
            if name not in self.known_properties:
                raise self.validation_error(f'Property "{name}" does not exist')
        now = int(time.time())
        contacts = self.store.contacts
        next_id = max((int(key) for key in contacts.rows), default=0) + 1
        contact = contacts.add(
            CrmContact(id=str(next_id), properties=dict(body.properties), created=now, updated=now)
        )
        return JsonResponse(self.render_contact(contact, list(body.properties)), status_code=201)

    async def update_contact(self, request: Request) -> Response:
        """Set (or clear, with null) properties of a contact; answers the changed ones."""
        contact_id = request.path_params["id"]
        contact = self.store.contacts.get(contact_id)
        if contact is None or contact.archived:
            raise self.not_found(contact_id)
        try:
            body = UpdateBody.model_validate(await read_json_object(request, self.validation_error))
        except ValidationError:
            raise self.validation_error(
                'Invalid input JSON: expected {"properties": {"<name>": "<string or null>"}}'
            ) from None
        for name in body.properties:
            if name in READ_ONLY:
                raise self.validation_error(f'Property "{name}" is read-only')
            if name not in self.known_properties:
                raise self.validation_error(f'Property "{name}" does not exist')
        changed = {
            name: value
            for name, value in body.properties.items()
            if contact.properties.get(name) != value
        }
        now = time.time()
        if changed:
            self.store.contacts.update(contact_id, lambda row: _apply(row, changed, int(now)))
            events = [self._event(contact_id, name, value, now) for name, value in changed.items()]
            self.outbox.emit("crm", events)
        return JsonResponse(self.render_contact(contact, list(body.properties)))

    def _event(self, contact_id: str, name: str, value: str | None, now: float) -> JSON:
        return {
            "eventId": next(self._event_ids),
            "subscriptionId": SUBSCRIPTION_ID,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": int(now * 1000),
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": int(contact_id),
            "propertyName": name,
            "propertyValue": value or "",
            "changeSource": "INTEGRATION",
            "sourceId": str(APP_ID),
        }


def _apply(contact: CrmContact, changed: dict[str, str | None], now: int) -> None:
    contact.properties.update(changed)
    contact.updated = now


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/crm/v3/objects/contacts",
        'Create a contact: {"properties": {"email": "...", "firstname": "..."}}; answers 201 '
        "with the contact (no webhook)",
        {
            201: ("The contact created", ref("Contact")),
            400: ("Unknown or read-only property, or a body of the wrong shape", ref("Error")),
            401: ("Missing or wrong token", ref("Error")),
        },
    ),
    Operation(
        "PATCH",
        "/crm/v3/objects/contacts/{id}",
        'Update a contact: {"properties": {"email": "..."}} (null clears); '
        "emits contact.propertyChange events",
        {
            200: ("The contact with the properties written", ref("Contact")),
            400: ("Unknown or read-only property, or a body of the wrong shape", ref("Error")),
            401: ("Missing or wrong token", ref("Error")),
            404: ("No such contact", ref("Error")),
        },
    ),
)
