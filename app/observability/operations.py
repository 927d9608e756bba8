"""Operation names as the client sends them, made safe to log and to use as a metric label."""

from __future__ import annotations

import re

#: Operation names are the client's to choose: beyond this many distinct ones, or for a
#: name that is not a plain identifier, the label is "other", so that a client cannot
#: grow the series without bound.
MAX_OPERATION_NAMES = 200
#: What an operation name must look like to be logged or used as a label.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def operation_label(name: str | None, seen: set[str]) -> str:
    """The metric label for operation ``name``: itself, ``anonymous`` or ``other``.

    ``seen`` holds the names already used as labels; a new acceptable name is added.
    """
    if not name:
        return "anonymous"
    if not OPERATION_NAME.fullmatch(name):
        return "other"
    if name not in seen:
        if len(seen) >= MAX_OPERATION_NAMES:
            return "other"
        seen.add(name)
    return name
