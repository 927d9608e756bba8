"""The figures the stack's tests measured, for the closing summary (``conftest.py``)."""

from __future__ import annotations

#: Lines of the replica-stop test: requests sent and failed.
FIGURES: list[str] = []
