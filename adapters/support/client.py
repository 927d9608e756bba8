"""Support ticketing, Zendesk-shaped: the system of record for tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import AwareDatetime

from adapters.http.client import CallPolicy, Clock, UpstreamHttp, gather_requests, utc_now
from adapters.support.port import UserChanges
from adapters.support.settings import SupportSettings
from adapters.taxonomy import Taxonomy
from adapters.wire import WireModel, text
from kernel.errors import UpstreamContractError, UpstreamNotFound
from kernel.models import (
    Source,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketId,
    TicketList,
    TicketStatus,
)

SHOW_MANY_SIZE = 100


def support_auth_headers(settings: SupportSettings) -> dict[str, str]:
    """The headers that authenticate the gateway to support: a Zendesk OAuth bearer token."""
    return {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}


def describe_zendesk_error(body: Any) -> str | None:
    """Zendesk's ``error`` when it is a name (``RecordNotFound``); never ``description``.

    Some Zendesk errors put a sentence in ``error``; ``adapters.http.errors`` drops anything
    that does not look like an identifier.
    """
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def _zendesk_id(value: str) -> int | None:
    """The integer Zendesk id of a canonical id, or None when it cannot be one."""
    return int(value) if value.isascii() and value.isdigit() else None


def _search_term(field: str, value: str) -> str:
    # Zendesk splits the query on spaces, so a value with one must be a quoted phrase.
    if any(c.isspace() or c == '"' for c in value):
        phrase = value.replace('"', "")
        return f'{field}:"{phrase}"'
    return f"{field}:{value}"


class _ZendeskUser(WireModel):
    id: int
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    role: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class _ZendeskTicket(WireModel):
    id: int
    requester_id: int | None = None
    subject: str | None = None
    status: str
    priority: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class _OneTicket(WireModel):
    """A ticket write's answer: ``{"ticket": {...}}``."""

    ticket: _ZendeskTicket


class _CursorMeta(WireModel):
    has_more: bool
    after_cursor: str | None = None


class _CursorPage(WireModel):
    meta: _CursorMeta


class _UserPage(_CursorPage):
    users: list[_ZendeskUser]


class _TicketPage(_CursorPage):
    tickets: list[_ZendeskTicket]


class _Users(WireModel):
    users: list[_ZendeskUser]


class _UserExportPage(WireModel):
    """A page of ``/api/v2/incremental/users/cursor.json``."""

    users: list[_ZendeskUser]
    after_cursor: str | None = None
    end_of_stream: bool


P = TypeVar("P", bound=_CursorPage)


class HttpSupportAdapter:
    """``SupportAdapter`` over a Zendesk Support API v2-shaped HTTP API.

    ``client`` comes from ``adapters.http.client.build_client(settings,
    support_auth_headers(settings))``; the caller owns and closes it. ``ticket_status`` is
    public so that its ``unmapped`` counts can be reported.
    """

    def __init__(
        self,
        settings: SupportSettings,
        client: httpx.AsyncClient,
        *,
        clock: Clock = utc_now,
        policy: CallPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = UpstreamHttp(
            client, Source.SUPPORT, describe_zendesk_error, clock=clock, policy=policy
        )
        self.ticket_status = Taxonomy(
            Source.SUPPORT, "ticket_status", settings.ticket_status, TicketStatus
        )

    async def get_users(self, ids: Sequence[SupportUserId]) -> dict[SupportUserId, SupportUser]:
        """The users with these ids, one ``show_many`` call per 100, concurrently.

        Ids that cannot be Zendesk's (not an integer) are as absent as unknown ones.
        """
        wire_ids = list(dict.fromkeys(i for i in map(_zendesk_id, ids) if i is not None))
        chunks = [wire_ids[i : i + SHOW_MANY_SIZE] for i in range(0, len(wire_ids), SHOW_MANY_SIZE)]
        pages = await gather_requests(self._show_many(chunk) for chunk in chunks)
        return {user.id: user for page in pages for user in page}

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        """Every ticket the user requested, following the cursor to the end, newest first."""
        wire_id = _zendesk_id(user_id)
        if wire_id is None:
            raise UpstreamNotFound(Source.SUPPORT, "user id is not a support id")
        tickets: list[_ZendeskTicket] = []
        async for page in self._cursor_pages(
            _TicketPage, f"/api/v2/users/{wire_id}/tickets/requested", {}, "ticket list"
        ):
            tickets.extend(page.tickets)
        # The canonical list is newest first whatever order the cursor walked in.
        tickets.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return TicketList(
            user_id=user_id,
            items=tuple(self._to_ticket(t) for t in tickets),
            fetched_at=self._clock(),
        )

    async def create_ticket(
        self,
        requester_id: SupportUserId,
        subject: str,
        body: str,
        priority: str | None,
        idempotency_key: str,
    ) -> TicketId:
        """``POST /api/v2/tickets.json`` for the user, the body as its first comment.

        Zendesk takes an ``Idempotency-Key`` on ticket creation: the same key answers the
        ticket first created, so an outbox retry after a lost answer opens no second one.
        """
        wire_id = _zendesk_id(requester_id)
        if wire_id is None:
            raise UpstreamNotFound(Source.SUPPORT, "user id is not a support id")
        ticket: dict[str, object] = {
            "requester_id": wire_id,
            "subject": subject,
            "comment": {"body": body},
        }
        if priority is not None:
            ticket["priority"] = priority
        created = await self._http.request_model(
            _OneTicket,
            "POST",
            "/api/v2/tickets.json",
            resource="ticket",
            json={"ticket": ticket},
            headers={"Idempotency-Key": idempotency_key},
        )
        return TicketId(str(created.ticket.id))

    async def comment_on_ticket(self, ticket_id: TicketId, body: str, public: bool) -> None:
        """A comment on the ticket (``PUT /api/v2/tickets/{id}.json``); a private one
        (``public: false``) is an internal note the requester never sees."""
        wire_id = _zendesk_id(ticket_id)
        if wire_id is None:
            raise UpstreamNotFound(Source.SUPPORT, "ticket id is not a support id")
        await self._http.request_model(
            _OneTicket,
            "PUT",
            f"/api/v2/tickets/{wire_id}.json",
            resource="ticket",
            json={"ticket": {"comment": {"body": body, "public": public}}},
            # A PUT, but adding a comment is not idempotent: never repeated by the policy.
            idempotent=False,
        )

    async def search_users(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[SupportUser]:
        """End users whose email (case-insensitive) or phone equals the one given.

        One search per key, concurrently. Zendesk's search also matches wildcards and
        phrases, so its results are kept only where they equal what was asked.
        """
        searches = []
        if email is not None:
            searches.append(self._search(_search_term("email", email)))
        if phone is not None:
            searches.append(self._search(_search_term("phone", phone)))
        found: dict[SupportUserId, SupportUser] = {}
        for users in await gather_requests(searches):
            for user in users:
                matches_email = (
                    email is not None
                    and user.email is not None
                    and user.email.casefold() == email.casefold()
                )
                matches_phone = phone is not None and user.phone == phone
                if matches_email or matches_phone:
                    found.setdefault(user.id, user)
        return list(found.values())

    async def iter_users(self) -> AsyncIterator[list[SupportUser]]:
        """Every end user, one page of ``settings.page_size`` at a time."""
        async for page in self._cursor_pages(
            _UserPage, "/api/v2/users", {"role": "end-user"}, "user list"
        ):
            yield self._users(page.users)

    async def iter_tickets(self) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
        """Every ticket (Zendesk's ``GET /api/v2/tickets``, cursor paginated), with its
        requester, one page of ``settings.page_size`` at a time; tickets without a requester
        are left out."""
        async for page in self._cursor_pages(_TicketPage, "/api/v2/tickets", {}, "ticket list"):
            yield [
                (SupportUserId(str(t.requester_id)), self._to_ticket(t))
                for t in page.tickets
                if t.requester_id is not None
            ]

    async def iter_user_changes(self, start: datetime | str) -> AsyncIterator[UserChanges]:
        """Zendesk's cursor-based incremental user export, end users only.

        A time opens the export (``start_time``, whole seconds, rounded down so nothing
        at that second is missed); a cursor continues one; pages follow ``after_cursor``
        until ``end_of_stream``.
        """
        params: dict[str, str | int] = {"per_page": self._settings.page_size}
        if isinstance(start, datetime):
            params["start_time"] = int(start.timestamp())
        else:
            params["cursor"] = start
        while True:
            page = await self._http.request_model(
                _UserExportPage,
                "GET",
                "/api/v2/incremental/users/cursor.json",
                resource="user export",
                params=params,
            )
            if not page.after_cursor:
                raise UpstreamContractError(Source.SUPPORT, "user export has no after_cursor")
            users = self._users(u for u in page.users if u.role in (None, "end-user"))
            yield UserChanges(users=tuple(users), cursor=page.after_cursor)
            if page.end_of_stream:
                return
            # Without a new cursor, asking again would return the same page forever.
            if page.after_cursor == params.get("cursor"):
                raise UpstreamContractError(Source.SUPPORT, "user export repeated its cursor")
            params = {"per_page": self._settings.page_size, "cursor": page.after_cursor}

    async def _show_many(self, ids: list[int]) -> list[SupportUser]:
        result = await self._http.request_model(
            _Users,
            "GET",
            "/api/v2/users/show_many",
            resource="user batch",
            params={"ids": ",".join(map(str, ids))},
        )
        return self._users(result.users)

    async def _search(self, query: str) -> list[SupportUser]:
        result = await self._http.request_model(
            _Users,
            "GET",
            "/api/v2/users/search",
            resource="user search result",
            params={"query": query},
        )
        return self._users(u for u in result.users if u.role in (None, "end-user"))

    async def _cursor_pages(
        self, model: type[P], path: str, params: Mapping[str, str], resource: str
    ) -> AsyncIterator[P]:
        """Each page of a cursor-paginated list, following ``after_cursor`` to the end."""
        after: str | None = None
        while True:
            page_params: dict[str, str | int] = {**params, "page[size]": self._settings.page_size}
            if after is not None:
                page_params["page[after]"] = after
            page = await self._http.request_model(
                model, "GET", path, resource=resource, params=page_params
            )
            yield page
            if not page.meta.has_more:
                return
            # Without a new cursor, asking again would return the same page forever.
            if page.meta.after_cursor is None or page.meta.after_cursor == after:
                raise UpstreamContractError(Source.SUPPORT, f"{resource} has no next cursor")
            after = page.meta.after_cursor

    def _users(self, users: Iterable[_ZendeskUser]) -> list[SupportUser]:
        fetched_at = self._clock()
        return [
            SupportUser(
                id=SupportUserId(str(u.id)),
                name=text(u.name),
                email=text(u.email),
                phone=text(u.phone),
                external_id=text(u.external_id),
                created_at=u.created_at,
                updated_at=u.updated_at,
                fetched_at=fetched_at,
            )
            for u in users
        ]

    def _to_ticket(self, wire: _ZendeskTicket) -> Ticket:
        return Ticket(
            id=TicketId(str(wire.id)),
            # Zendesk allows a ticket without a subject; the canonical one always has one.
            subject=wire.subject or "",
            status=self.ticket_status.map(wire.status),
            source_status=wire.status,
            priority=text(wire.priority),
            created_at=wire.created_at,
            updated_at=wire.updated_at,
        )
