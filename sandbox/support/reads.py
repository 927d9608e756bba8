"""Support's read endpoints: end users (listed, searched, shown) and their tickets.

Lists use Zendesk's cursor pagination (``page[size]``, ``page[after]``, ``page[before]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.records import SupportStore, SupportUser
from sandbox.responses import (
    JSON,
    JsonResponse,
    decode_cursor,
    encode_cursor,
    system_base_url,
)
from sandbox.support.shapes import (
    _not_found,
    invalid_pagination,
    invalid_value,
    render_ticket,
    render_user,
)
from sandbox.table import Page, page_after, page_before

MAX_PAGE_SIZE = 100
MAX_SHOW_MANY = 100
MAX_SEARCH_RESULTS = 100

_SEARCH_KEYS = re.compile(r"(?:^|\s+)(email|phone|external_id|name|role|type):")


# --- parameters -------------------------------------------------------------------------


def _ids(request: Request) -> list[int]:
    """``ids=1,2,3``: at most 100 integers, duplicates dropped, order kept."""
    raw = request.query_params.get("ids", "")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise invalid_value("ids is required: a comma-separated list of ids")
    if len(parts) > MAX_SHOW_MANY:
        raise invalid_value(f"At most {MAX_SHOW_MANY} ids can be requested at once")
    try:
        return list(dict.fromkeys(int(part) for part in parts))
    except ValueError:
        raise invalid_value(f"ids must be integers: {raw}") from None


def _path_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise _not_found()
    return int(raw)


def _cursor_key(token: str) -> tuple[int, int]:
    try:
        first, second = decode_cursor(token)
    except ValueError:
        raise invalid_pagination(f"Invalid cursor: {token}") from None
    if not isinstance(first, int) or not isinstance(second, int):
        raise invalid_pagination(f"Invalid cursor: {token}")
    return (first, second)


# --- endpoints --------------------------------------------------------------------------


class SupportApi:
    """The support endpoints over one ``SupportStore``."""

    def __init__(self, store: SupportStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        """The vendor routes (the fixed ``users/...`` paths before ``users/{id}``)."""
        return [
            Route("/api/v2/users", self.list_users, methods=["GET"]),
            Route("/api/v2/users/search", self.search_users, methods=["GET"]),
            Route("/api/v2/users/show_many", self.show_many_users, methods=["GET"]),
            Route("/api/v2/users/{id}", self.get_user, methods=["GET"]),
            Route("/api/v2/users/{id}/tickets/requested", self.requested_tickets, methods=["GET"]),
            Route("/api/v2/tickets", self.list_tickets, methods=["GET"]),
            Route("/api/v2/tickets/show_many", self.show_many_tickets, methods=["GET"]),
            Route("/api/v2/tickets/{id}", self.get_ticket, methods=["GET"]),
        ]

    async def list_users(self, request: Request) -> Response:
        """GET /api/v2/users: by id, optionally one ``role``."""
        table = self.store.users
        role = request.query_params.get("role")
        base_url = system_base_url(request)
        return self._cursor_page(
            request,
            "users",
            table.order(),
            descending=False,
            keep=None if role is None else (lambda key: table.rows[key[1]].role == role),
            render=lambda key: render_user(table.rows[key], base_url),
        )

    async def search_users(self, request: Request) -> Response:
        """GET /api/v2/users/search: ``query`` or exact ``external_id``."""
        external_id = request.query_params.get("external_id")
        query = request.query_params.get("query")
        if external_id is not None:
            users = self.store.users.find("external_id", external_id)
        elif query:
            users = self._search(query)
        else:
            raise invalid_value("query or external_id is required")
        users.sort(key=lambda u: u.id)
        base_url = system_base_url(request)
        return JsonResponse(
            {
                "users": [render_user(u, base_url) for u in users[:MAX_SEARCH_RESULTS]],
                "next_page": None,
                "previous_page": None,
                "count": len(users),
            }
        )

    async def show_many_users(self, request: Request) -> Response:
        """GET /api/v2/users/show_many: unknown ids are left out."""
        users = (self.store.users.get(user_id) for user_id in _ids(request))
        base_url = system_base_url(request)
        return JsonResponse({"users": [render_user(u, base_url) for u in users if u]})

    async def get_user(self, request: Request) -> Response:
        """GET /api/v2/users/{id}."""
        user = self.store.users.get(_path_id(request))
        if user is None:
            raise _not_found()
        return JsonResponse({"user": render_user(user, system_base_url(request))})

    async def requested_tickets(self, request: Request) -> Response:
        """GET /api/v2/users/{id}/tickets/requested: newest first."""
        user_id = _path_id(request)
        if self.store.users.get(user_id) is None:
            raise _not_found()
        tickets = self.store.tickets
        base_url = system_base_url(request)
        return self._cursor_page(
            request,
            "tickets",
            tickets.sorted_keys(tickets.find("requester", user_id)),
            descending=True,
            keep=None,
            render=lambda key: render_ticket(tickets.rows[key], base_url),
        )

    async def list_tickets(self, request: Request) -> Response:
        """GET /api/v2/tickets: every ticket, by id (Zendesk's List Tickets, cursor paged)."""
        tickets = self.store.tickets
        base_url = system_base_url(request)
        return self._cursor_page(
            request,
            "tickets",
            tickets.order(),
            descending=False,
            keep=None,
            render=lambda key: render_ticket(tickets.rows[key], base_url),
        )

    async def show_many_tickets(self, request: Request) -> Response:
        """GET /api/v2/tickets/show_many: unknown ids are left out."""
        tickets = (self.store.tickets.get(ticket_id) for ticket_id in _ids(request))
        base_url = system_base_url(request)
        return JsonResponse({"tickets": [render_ticket(t, base_url) for t in tickets if t]})

    async def get_ticket(self, request: Request) -> Response:
        """GET /api/v2/tickets/{id}."""
        ticket = self.store.tickets.get(_path_id(request))
        if ticket is None:
            raise _not_found()
        return JsonResponse({"ticket": render_ticket(ticket, system_base_url(request))})

    # --- helpers --------------------------------------------------------------------

    def _cursor_page(
        self,
        request: Request,
        name: str,
        order: list[tuple[int, int]],
        *,
        descending: bool,
        keep: Callable[[tuple[int, int]], bool] | None,
        render: Callable[[int], JSON],
    ) -> Response:
        """One page of Zendesk cursor pagination over ``order``."""
        params = request.query_params
        raw_size = params.get("page[size]", str(MAX_PAGE_SIZE))
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise invalid_pagination(f"page[size] must be between 1 and {MAX_PAGE_SIZE}")
        size = int(raw_size)
        after, before = params.get("page[after]"), params.get("page[before]")
        page: Page[int]
        if before and not after:
            if keep is not None:
                order = [key for key in order if keep(key)]
            page = page_before(order, _cursor_key(before), size, descending=descending)
            has_more = page.more_before
        else:
            start = _cursor_key(after) if after else None
            page = page_after(order, start, size, descending=descending, keep=keep)
            has_more = page.more_after
        after_cursor = encode_cursor(*page.keys[-1]) if page.keys else None
        before_cursor = encode_cursor(*page.keys[0]) if page.keys else None
        url = request.url.remove_query_params(["page[after]", "page[before]"])
        return JsonResponse(
            {
                name: [render(key) for _, key in page.keys],
                "meta": {
                    "has_more": has_more,
                    "after_cursor": after_cursor,
                    "before_cursor": before_cursor,
                },
                "links": {
                    "next": str(url.include_query_params(**{"page[after]": after_cursor}))
                    if page.more_after and after_cursor
                    else None,
                    "prev": str(url.include_query_params(**{"page[before]": before_cursor}))
                    if page.more_before and before_cursor
                    else None,
                },
            }
        )

    def _search(self, query: str) -> list[SupportUser]:
        """Users matching ``key:value`` terms (ANDed) and free text (in name or email)."""
        parts = _SEARCH_KEYS.split(query.strip())
        free_text = parts[0].strip().lower()
        terms = [(parts[i], parts[i + 1].strip().strip("\"'")) for i in range(1, len(parts), 2)]
        users = self.store.users
        pool: list[SupportUser] | None = None
        for key, value in terms:
            if key == "email":
                pool = users.find("email", value.lower())
            elif key == "phone":
                pool = users.find("phone", value)
            elif key == "external_id":
                pool = users.find("external_id", value)
            if pool is not None:
                break
        candidates = list(users) if pool is None else pool
        return [
            user
            for user in candidates
            if all(_term_matches(user, key, value) for key, value in terms)
            and (not free_text or free_text in f"{user.name} {user.email or ''}".lower())
        ]


def _term_matches(user: SupportUser, key: str, value: str) -> bool:
    if key == "email":
        return (user.email or "").lower() == value.lower()
    if key == "phone":
        return user.phone == value
    if key == "external_id":
        return user.external_id == value
    if key == "name":
        return value.lower() in user.name.lower()
    if key == "role":
        return user.role == value
    return key == "type" and value == "user"
