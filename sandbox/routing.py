"""Which route a request is for, and which routes are the sandbox's own (public) ones."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

OPENAPI_PATH = "/openapi.json"
CONTROL_PREFIX = "/_sandbox/"
#: Published metadata (the IVR's JWKS): public at a real vendor too.
WELL_KNOWN_PREFIX = "/.well-known/"


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The path template (``/v1/customers/{id}``) of the route the router will pick.

    A route that matches the path but not the method still names the request (it is
    answered 405); None when no route matches the path at all.
    """
    partial: str | None = None
    for route in routes:
        match, _ = route.matches(scope)
        path = getattr(route, "path", None)
        if match is Match.FULL and isinstance(path, str):
            return path
        if match is Match.PARTIAL and partial is None and isinstance(path, str):
            partial = path
    return partial


def is_public(template: str | None) -> bool:
    """Whether a route is the sandbox's own: no API key, no faults, no stats."""
    return template is not None and (
        template == OPENAPI_PATH
        or template.startswith(CONTROL_PREFIX)
        or template.startswith(WELL_KNOWN_PREFIX)
    )
