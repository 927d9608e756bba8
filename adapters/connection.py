"""What the app hands a source's ``connect`` (its registry entry), however it is reached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.http.client import CallPolicy


@dataclass(frozen=True, slots=True)
class Connection:
    """The app's part in opening one source's adapter."""

    #: Wraps every call of the adapter (``app.resilience``: retries, breaker, bulkhead).
    policy: CallPolicy | None = None
    #: An HTTP source's transport in place of the network (tests: ``httpx.MockTransport``);
    #: a source reached otherwise ignores it.
    http_transport: httpx.AsyncBaseTransport | None = None
    #: Registers a listener told of the source's section each time a secret in it changes
    #: (``app.secrets``: a credential's file replaced): an HTTP source sends the new key
    #: from its next call. None: its secrets never change while it runs.
    watch_section: Callable[[Callable[[Any], None]], None] | None = None
