"""Zendesk's cursor-based incremental user export: every user changed since a time.

``GET /api/v2/incremental/users/cursor.json?start_time=<unix seconds>`` starts the stream,
``?cursor=<after_cursor>`` continues it. Users come in ``updated_at`` order (id breaking
ties), at most ``per_page`` (1..1000, default 1000) a call; ``end_of_stream`` says the
client has caught up, and the ``after_cursor`` of that last page is where the next export
starts (Zendesk's advice: keep it, rather than a time). Every role is exported, as Zendesk
does; the client keeps the end users.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.openapi import BOOLEAN, INTEGER, STRING, Operation, Param, nullable, obj, ref
from sandbox.records import SupportStore, SupportUser
from sandbox.responses import (
    JSON,
    JsonResponse,
    VendorError,
    decode_cursor,
    encode_cursor,
    system_base_url,
)

PATH = "/api/v2/incremental/users/cursor.json"
MAX_PER_PAGE = 1000

Position = tuple[int, int]


class IncrementalUserExport:
    """The export over one ``SupportStore``; errors in Zendesk's shape through the callables."""

    def __init__(
        self,
        store: SupportStore,
        render_user: Callable[[SupportUser, str], JSON],
        invalid_value: Callable[[str], VendorError],
        invalid_pagination: Callable[[str], VendorError],
    ) -> None:
        # Rendering and errors live in ``sandbox.support.shapes``; ``sandbox.support.system``, which
        # imports this module, passes them in.
        self.store = store
        self.render_user = render_user
        self.invalid_value = invalid_value
        self.invalid_pagination = invalid_pagination

    def routes(self) -> list[Route]:
        """The export route."""
        return [Route(PATH, self.export_users, methods=["GET"])]

    async def export_users(self, request: Request) -> Response:
        """One page of users changed after the start time or cursor, oldest change first."""
        after = self._start(request)
        per_page = self._per_page(request)
        # The next page without sorting the whole table: the sandbox holds up to 100,000.
        wanted = heapq.nsmallest(
            per_page + 1,
            (
                position
                for user in self.store.users
                if (position := (user.updated, user.id)) > after
            ),
        )
        page, end_of_stream = wanted[:per_page], len(wanted) <= per_page
        # An empty page hands back where it started, so the client can resume from there.
        last = page[-1] if page else after
        after_cursor = encode_cursor(*last)
        base_url = system_base_url(request)
        rows = self.store.users.rows
        return JsonResponse(
            {
                "users": [self.render_user(rows[user_id], base_url) for _, user_id in page],
                "after_cursor": after_cursor,
                "after_url": f"{base_url}{PATH}?cursor={after_cursor}",
                "before_cursor": None,
                "before_url": None,
                "end_of_stream": end_of_stream,
            }
        )

    def _start(self, request: Request) -> Position:
        params = request.query_params
        cursor, start_time = params.get("cursor"), params.get("start_time")
        if cursor:
            try:
                first, second = decode_cursor(cursor)
            except ValueError:
                raise self.invalid_pagination(f"Invalid cursor: {cursor}") from None
            if not isinstance(first, int) or not isinstance(second, int):
                raise self.invalid_pagination(f"Invalid cursor: {cursor}")
            return (first, second)
        if start_time is None or not start_time.isdigit():
            raise self.invalid_value("start_time (unix seconds) or cursor is required")
        # Users updated at start_time or later: every id is greater than -1.
        return (int(start_time), -1)

    def _per_page(self, request: Request) -> int:
        raw = request.query_params.get("per_page", str(MAX_PER_PAGE))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
            raise self.invalid_value(f"per_page must be between 1 and {MAX_PER_PAGE}")
        return int(raw)


SCHEMAS: dict[str, JSON] = {
    "UserExport": obj(
        {
            "users": {"type": "array", "items": ref("User")},
            "after_cursor": STRING,
            "after_url": STRING,
            "before_cursor": nullable(STRING),
            "before_url": nullable(STRING),
            "end_of_stream": BOOLEAN,
        },
        required=["users", "after_cursor", "end_of_stream"],
    )
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        PATH,
        "Incremental user export: users changed since start_time, by updated_at, cursor-paged",
        {
            200: ("A page of changed users", ref("UserExport")),
            400: ("Bad start_time, cursor or per_page", ref("Error")),
            401: ("Missing or wrong token", ref("Error")),
        },
        params=(
            Param("start_time", "Unix seconds: users updated at or after it", INTEGER),
            Param("cursor", "after_cursor of the previous page"),
            Param("per_page", "1..1000 (default 1000)", {**INTEGER, "minimum": 1, "maximum": 1000}),
        ),
    ),
)
