"""Support's write endpoints (create and update a ticket) and the Zendesk events they emit.

``POST /api/v2/tickets.json`` and ``PUT /api/v2/tickets/{id}.json`` take
``{"ticket": {...}}`` as Zendesk does. A creation is one ``zen:event-type:ticket.created``
event; an update is one ``zen:event-type:ticket.<field>_changed`` event per field that
changed (status, priority, subject, type) and ``ticket.comment_added`` for a comment.
Zendesk sends each event as its own webhook, with string ids and upper-case enums.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.openapi import Operation, ref
from sandbox.records import SupportStore, Ticket
from sandbox.responses import JSON, JsonResponse, VendorError, iso, system_base_url
from sandbox.webhooks import WebhookOutbox

#: The (pretend) Zendesk account the events come from.
ACCOUNT_ID = 10071
EVENT_VERSION = "2022-11-06"

Status = Literal["new", "open", "pending", "hold", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
TicketType = Literal["question", "incident", "problem", "task"]

#: Words of the enums above, written in upper case in events.
ENUM_WORDS = frozenset({*get_args(Status), *get_args(Priority), *get_args(TicketType)})

#: The fields whose change is an event of its own, in the order they are sent.
TRACKED = ("status", "priority", "subject", "type")


class Comment(BaseModel):
    """A ticket comment: its text, and whether the requester sees it (Zendesk's ``public``,
    true unless said otherwise; a private comment is an internal note)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    body: str = Field(min_length=1)
    public: bool = True


class NewTicket(BaseModel):
    """``ticket`` of a create request."""

    model_config = ConfigDict(extra="forbid", strict=True)

    requester_id: int
    comment: Comment
    subject: str | None = None
    status: Status = "new"
    priority: Priority | None = None
    type: TicketType | None = None


class TicketChange(BaseModel):
    """``ticket`` of an update request: only the fields given change."""

    model_config = ConfigDict(extra="forbid", strict=True)

    comment: Comment | None = None
    subject: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    type: TicketType | None = None


class CreateBody(BaseModel):
    """``POST /api/v2/tickets.json``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ticket: NewTicket


class UpdateBody(BaseModel):
    """``PUT /api/v2/tickets/{id}.json``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ticket: TicketChange


def record_invalid(description: str) -> VendorError:
    """Zendesk's 422 for a body it understood but cannot accept."""
    return VendorError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"base": [{"description": description}]},
        },
    )


def _parse_error(exc: ValidationError) -> VendorError:
    fields = ", ".join(
        ".".join(str(part) for part in error["loc"]) or "body" for error in exc.errors()
    )
    return VendorError(400, {"error": "InvalidValue", "description": f"Invalid fields: {fields}"})


def zendesk_event(event_type: str, ticket: Ticket, event: JSON, at: float | None = None) -> JSON:
    """A Zendesk ticket event (``detail`` is the ticket as events write it) that happened
    ``at`` (epoch seconds; default the real now)."""
    return {
        "account_id": ACCOUNT_ID,
        "id": str(uuid.uuid4()),
        "time": iso(int(time.time() if at is None else at)),
        "type": f"zen:event-type:{event_type}",
        "zendesk_event_version": EVENT_VERSION,
        "subject": f"zen:ticket:{ticket.id}",
        "detail": {
            "id": str(ticket.id),
            "requester_id": str(ticket.requester_id),
            "submitter_id": str(ticket.requester_id),
            "subject": ticket.subject,
            "description": ticket.description,
            "status": ticket.status.upper(),
            "priority": ticket.priority.upper() if ticket.priority else None,
            "type": ticket.type.upper() if ticket.type else None,
            "created_at": iso(ticket.created),
            "updated_at": iso(ticket.updated),
            "via": {"channel": "api"},
        },
        "event": event,
    }


class SupportWrites:
    """Ticket creation and update over one store."""

    def __init__(
        self,
        store: SupportStore,
        outbox: WebhookOutbox,
        render_ticket: Callable[[Ticket, str], JSON],
        not_found: Callable[[], VendorError],
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Rendering and errors live in ``sandbox.support.shapes``; ``sandbox.support.system``, which
        # imports this module, passes them in.
        #: The system's clock (``/_sandbox/clock``): tickets' times and their events' follow it.
        self.clock = clock
        self.store = store
        self.outbox = outbox
        self.render_ticket = render_ticket
        self.not_found = not_found
        #: Idempotency keys of ticket creations: the body sent and the ticket answered.
        self.idempotency: dict[str, tuple[bytes, JSON]] = {}

    def routes(self) -> list[Route]:
        """The write routes, with and without Zendesk's ``.json`` suffix."""
        return [
            Route("/api/v2/tickets.json", self.create_ticket, methods=["POST"]),
            Route("/api/v2/tickets", self.create_ticket, methods=["POST"]),
            Route("/api/v2/tickets/{id:int}.json", self.update_ticket, methods=["PUT"]),
            Route("/api/v2/tickets/{id:int}", self.update_ticket, methods=["PUT"]),
        ]

    async def create_ticket(self, request: Request) -> Response:
        """Open a ticket for an existing end user; answers 201 with the ticket.

        With an ``Idempotency-Key``, as Zendesk takes it on ticket creation: the same key and
        body answer the ticket first created (``x-idempotency-lookup: hit``) and open no
        other; the same key with another body is refused (400, nothing created).
        """
        key = request.headers.get("idempotency-key")
        raw = await request.body()
        if key:
            seen = self.idempotency.get(key)
            if seen is not None:
                if seen[0] != raw:
                    raise VendorError(
                        400,
                        {
                            "error": "IdempotentRequestError",
                            "description": "The idempotency key was used with another body",
                        },
                    )
                return JsonResponse(
                    seen[1], status_code=201, headers={"x-idempotency-lookup": "hit"}
                )
        response = await self._create_ticket(request, raw)
        if key:
            self.idempotency[key] = (raw, orjson.loads(response.body))
        return response

    async def _create_ticket(self, request: Request, raw: bytes) -> Response:
        try:
            body = CreateBody.model_validate_json(raw)
        except ValidationError as exc:
            raise _parse_error(exc) from None
        new = body.ticket
        if self.store.users.get(new.requester_id) is None:
            raise record_invalid("Requester: is invalid")
        now = int(self.clock())
        ticket = self.store.tickets.add(
            Ticket(
                id=self._next_id(),
                requester_id=new.requester_id,
                subject=new.subject or new.comment.body.splitlines()[0][:80],
                description=new.comment.body,
                status=new.status,
                priority=new.priority,
                type=new.type,
                created=now,
                updated=now,
            )
        )
        self.outbox.emit("support", zendesk_event("ticket.created", ticket, {}, now))
        rendered = self.render_ticket(ticket, system_base_url(request))
        return JsonResponse({"ticket": rendered}, status_code=201)

    async def update_ticket(self, request: Request) -> Response:
        """Change status, priority, subject or type, or add a comment."""
        ticket_id: int = request.path_params["id"]
        ticket = self.store.tickets.get(ticket_id)
        if ticket is None:
            raise self.not_found()
        try:
            change = UpdateBody.model_validate_json(await request.body()).ticket
        except ValidationError as exc:
            raise _parse_error(exc) from None
        if ticket.status == "closed":
            raise record_invalid("Status: closed prevents ticket update")
        before = {name: getattr(ticket, name) for name in TRACKED}
        wanted = {
            name: value
            for name in TRACKED
            if (value := getattr(change, name)) is not None and value != before[name]
        }
        now = int(self.clock())
        if wanted or change.comment is not None:
            self.store.tickets.update(ticket_id, lambda row: _apply(row, wanted, now))
        for name, value in wanted.items():
            event = {"current": _event_value(value), "previous": _event_value(before[name])}
            self.outbox.emit("support", zendesk_event(f"ticket.{name}_changed", ticket, event, now))
        if change.comment is not None:
            comment = {"comment": {"body": change.comment.body, "is_public": change.comment.public}}
            self.outbox.emit("support", zendesk_event("ticket.comment_added", ticket, comment, now))
        return JsonResponse({"ticket": self.render_ticket(ticket, system_base_url(request))})

    def _next_id(self) -> int:
        return max(self.store.tickets.rows, default=0) + 1


def _event_value(value: str | None) -> str | None:
    # Zendesk events write enums in upper case; subjects are free text and stay as they are.
    return value.upper() if value is not None and value in ENUM_WORDS else value


def _apply(ticket: Ticket, changes: dict[str, str], now: int) -> None:
    for name, value in changes.items():
        setattr(ticket, name, value)
    ticket.updated = now


_TICKET = ("The ticket", ref("OneTicket"))
OPERATIONS: tuple[Operation, ...] = (
    *(
        Operation(
            "POST",
            path,
            'Create a ticket: {"ticket": {"requester_id": 9001, "comment": {"body": "..."}, '
            '"subject"?, "status"?, "priority"?, "type"?}}; emits ticket.created',
            {
                201: _TICKET,
                400: ("A body of the wrong shape", ref("Error")),
                401: ("Missing or wrong token", ref("Error")),
                422: ("Unknown requester", ref("Error")),
            },
        )
        for path in ("/api/v2/tickets.json", "/api/v2/tickets")
    ),
    *(
        Operation(
            "PUT",
            path,
            'Update a ticket: {"ticket": {"status"?, "priority"?, "subject"?, "type"?, '
            '"comment"?}}; emits ticket.<field>_changed per changed field',
            {
                200: _TICKET,
                400: ("A body of the wrong shape", ref("Error")),
                401: ("Missing or wrong token", ref("Error")),
                404: ("No such ticket", ref("Error")),
                422: ("The ticket is closed", ref("Error")),
            },
        )
        for path in ("/api/v2/tickets/{id}.json", "/api/v2/tickets/{id}")
    ),
)
