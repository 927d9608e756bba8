"""The CRM's notes: ``POST /crm/v3/objects/notes`` with its association to a contact, as
HubSpot's v3 objects API takes it, and ``GET /crm/v3/objects/notes/{id}`` to read one back.

A note is created with ``{"properties": {"hs_note_body": "...", "hs_timestamp": "..."},
"associations": [{"to": {"id": "<contact>"}, "types": [{"associationCategory":
"HUBSPOT_DEFINED", "associationTypeId": 202}]}]}`` (202: note to contact). Each contact it
is associated with gets a ``contact.associationChange`` webhook event, as HubSpot sends one
when a note is attached to a contact.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.crm.writes import APP_ID, PORTAL_ID, SUBSCRIPTION_ID
from sandbox.openapi import BOOLEAN, STRING, Operation, obj, ref
from sandbox.records import CrmStore
from sandbox.responses import JSON, JsonResponse, VendorError, iso, read_json_object
from sandbox.webhooks import WebhookOutbox

#: HubSpot's association type of a note to a contact.
NOTE_TO_CONTACT = 202
#: HubSpot's limit on a note's body (characters).
MAX_BODY = 65_536


class _AssociationType(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    associationCategory: str
    associationTypeId: int


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str


class _Association(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    to: _Target
    types: list[_AssociationType] = Field(min_length=1)


class _NoteProperties(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    hs_note_body: str = Field(min_length=1, max_length=MAX_BODY)
    hs_timestamp: str


class CreateNoteBody(BaseModel):
    """``POST /crm/v3/objects/notes``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    properties: _NoteProperties
    associations: list[_Association] = Field(default_factory=list)


@dataclass(slots=True)
class Note:
    """A note and the contacts it is associated with."""

    id: str
    body: str
    timestamp: str
    created: int
    contacts: list[str] = field(default_factory=list)


class CrmNotes:
    """Notes over one CRM store; kept beside the contacts, in memory, as the sandbox keeps all."""

    def __init__(
        self,
        store: CrmStore,
        outbox: WebhookOutbox,
        validation_error: Callable[[str], VendorError],
        not_found: Callable[[str], VendorError],
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.validation_error = validation_error
        self.not_found = not_found
        self.notes: dict[str, Note] = {}
        self._ids = itertools.count(random.randrange(10**10, 10**11))
        self._event_ids = itertools.count(random.randrange(10**12, 10**13))

    def routes(self) -> list[Route]:
        """Create a note, read one, list a contact's."""
        return [
            Route("/crm/v3/objects/notes", self.create_note, methods=["POST"]),
            Route("/crm/v3/objects/notes/{id}", self.get_note, methods=["GET"]),
            Route(
                "/crm/v3/objects/contacts/{id}/associations/notes",
                self.contact_notes,
                methods=["GET"],
            ),
        ]

    async def create_note(self, request: Request) -> Response:
        """A note with its associations; 201 with the note. Unknown contacts are refused."""
        try:
            body = CreateNoteBody.model_validate(
                await read_json_object(request, self.validation_error)
            )
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise self.validation_error(f"Invalid input JSON on fields: {fields}") from None
        contacts: list[str] = []
        for association in body.associations:
            type_ids = {kind.associationTypeId for kind in association.types}
            if type_ids != {NOTE_TO_CONTACT}:
                raise self.validation_error("Only note-to-contact associations (202) are known")
            contact = self.store.contacts.get(association.to.id)
            if contact is None or contact.archived:
                raise self.not_found(association.to.id)
            contacts.append(contact.id)
        now = time.time()
        note = Note(
            id=str(next(self._ids)),
            body=body.properties.hs_note_body,
            timestamp=body.properties.hs_timestamp,
            created=int(now),
            contacts=contacts,
        )
        self.notes[note.id] = note
        if contacts:
            self.outbox.emit("crm", [self._event(contact, note, now) for contact in contacts])
        return JsonResponse(render_note(note), status_code=201)

    async def get_note(self, request: Request) -> Response:
        """One note, with its contact associations (``?associations=contacts``)."""
        note = self.notes.get(request.path_params["id"])
        if note is None:
            raise self.not_found(request.path_params["id"])
        rendered = render_note(note)
        if "contacts" in request.query_params.get("associations", ""):
            rendered["associations"] = {
                "contacts": {
                    "results": [
                        {"id": contact, "type": "note_to_contact"} for contact in note.contacts
                    ]
                }
            }
        return JsonResponse(rendered)

    async def contact_notes(self, request: Request) -> Response:
        """The notes associated with a contact (HubSpot's v3 associations read)."""
        contact_id = request.path_params["id"]
        contact = self.store.contacts.get(contact_id)
        if contact is None or contact.archived:
            raise self.not_found(contact_id)
        results = [
            {"id": note.id, "type": "contact_to_note"}
            for note in self.notes.values()
            if contact_id in note.contacts
        ]
        return JsonResponse({"results": results})

    def _event(self, contact_id: str, note: Note, now: float) -> JSON:
        return {
            "eventId": next(self._event_ids),
            "subscriptionId": SUBSCRIPTION_ID,
            "portalId": PORTAL_ID,
            "appId": APP_ID,
            "occurredAt": int(now * 1000),
            "subscriptionType": "contact.associationChange",
            "attemptNumber": 0,
            "objectId": int(contact_id),
            "associationType": "CONTACT_TO_NOTE",
            "fromObjectId": int(contact_id),
            "toObjectId": int(note.id),
            "associationRemoved": False,
            "changeSource": "INTEGRATION",
            "sourceId": str(APP_ID),
        }


def render_note(note: Note) -> JSON:
    """A note as HubSpot's v3 objects API writes it."""
    return {
        "id": note.id,
        "properties": {
            "hs_note_body": note.body,
            "hs_timestamp": note.timestamp,
            "hs_object_id": note.id,
            "hs_createdate": iso(note.created),
        },
        "createdAt": iso(note.created),
        "updatedAt": iso(note.created),
        "archived": False,
    }


NOTE_SCHEMA: JSON = obj(
    {
        "id": STRING,
        "properties": {"type": "object", "additionalProperties": STRING},
        "createdAt": {**STRING, "format": "date-time"},
        "updatedAt": {**STRING, "format": "date-time"},
        "archived": BOOLEAN,
    }
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/crm/v3/objects/notes",
        'Create a note: {"properties": {"hs_note_body": "...", "hs_timestamp": "..."}, '
        '"associations": [{"to": {"id": "<contact>"}, "types": [{"associationCategory": '
        '"HUBSPOT_DEFINED", "associationTypeId": 202}]}]}; emits contact.associationChange',
        {
            201: ("The note created", ref("Note")),
            400: ("A body of the wrong shape, or an unknown association type", ref("Error")),
            401: ("Missing or wrong token", ref("Error")),
            404: ("No such contact", ref("Error")),
        },
    ),
    Operation(
        "GET",
        "/crm/v3/objects/notes/{id}",
        "Read a note (associations=contacts lists its contacts)",
        {
            200: ("The note", ref("Note")),
            401: ("Missing or wrong token", ref("Error")),
            404: ("No such note", ref("Error")),
        },
    ),
    Operation(
        "GET",
        "/crm/v3/objects/contacts/{id}/associations/notes",
        "The notes associated with a contact",
        {
            200: ("The associated notes' ids", None),
            401: ("Missing or wrong token", ref("Error")),
            404: ("No such contact", ref("Error")),
        },
    ),
)
