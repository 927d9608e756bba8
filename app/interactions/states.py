"""What an interaction's state allows: who may move it, whether it is still held and open,
and, when a step did not apply, the refusal that explains why.

The moves themselves (WAITING -> ACTIVE by a claim, to another agent by a transfer, to
ENDED) are conditional statements in the store, so that two racing requests cannot both
apply. These rules read a row after the fact: to check a token, or to explain a refusal.
"""

from __future__ import annotations

from datetime import datetime

from app.store.interactions import InteractionRow
from kernel.access import Principal
from kernel.interactions import InteractionRefused

__all__ = ["exhausted", "expired", "explain", "held_open", "holder"]


def holder(principal: Principal) -> str | None:
    """Whose interaction the principal may move: its own; a supervisor, anyone's."""
    return None if principal.role == "supervisor" else principal.subject


def expired(row: InteractionRow, now: datetime) -> bool:
    return row.state != "ENDED" and row.expires_at <= now


def held_open(row: InteractionRow, agent: str, now: datetime) -> bool:
    return row.state == "ACTIVE" and row.agent == agent and not expired(row, now)


def exhausted(row: InteractionRow, max_attempts: int) -> bool:
    return row.kba_attempts >= max_attempts


def explain(
    row: InteractionRow | None,
    principal: Principal,
    kind: str,
    now: datetime,
    max_attempts: int,
) -> InteractionRefused:
    """The refusal of a step of ``kind`` that did not apply to ``row`` (read afterwards)."""
    if row is None:
        return InteractionRefused(
            "INTERACTION_NOT_FOUND", "no interaction for this contact", status=404
        )
    if row.state == "ENDED":
        return InteractionRefused("INTERACTION_ENDED", "the interaction has ended")
    if expired(row, now):
        return InteractionRefused("INTERACTION_EXPIRED", "the interaction has expired", status=410)
    may_act = row.agent == principal.subject or (
        principal.role == "supervisor" and kind in ("TRANSFER", "END")
    )
    if row.state == "ACTIVE" and not may_act:
        return InteractionRefused(
            "INTERACTION_HELD_BY_ANOTHER_AGENT",
            "the interaction is held by another agent",
            status=403,
        )
    if row.state == "WAITING" and kind != "CLAIM":
        return InteractionRefused(
            "INTERACTION_NOT_CLAIMED", "claim the interaction first", status=409
        )
    if kind == "VERIFY" and exhausted(row, max_attempts):
        return InteractionRefused(
            "VERIFICATION_ATTEMPTS_EXHAUSTED",
            "no knowledge-check attempts are left for this interaction",
            status=429,
        )
    return InteractionRefused("INTERACTION_CONFLICT", "the interaction changed; try again")
