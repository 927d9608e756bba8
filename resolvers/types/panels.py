"""Whether a source's panel is served, by its rollout mode (``kernel.rollout``).

Every panel of a source goes through ``serve_panel``: ``ON`` serves it, ``PILOT`` serves it
to the cohort only, ``OFF`` answers null, and ``SHADOW`` answers null while the same panel is
built in the background and compared with the system of record for the link, the identity
store: the source agrees when it finds the very record the customer is linked to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

from kernel.identity import CustomerRecord, IdentityLink
from kernel.models import Source
from kernel.rollout import RolloutMode, ShadowOutcome
from resolvers.types.common import Info, PanelMeta

PanelT = TypeVar("PanelT")

#: Reasons a shadow read disagreed, besides an error's code.
NO_RECORD = "no_record"
OTHER_RECORD = "other_record"
MATCH = "match"


@runtime_checkable
class ShadowProbe(Protocol):
    """A lazy panel (its fields load on their own) says which record it found."""

    async def shadow_record_id(self, info: Info) -> str: ...


async def serve_panel(
    info: Info,
    record: CustomerRecord,
    source: Source,
    build: Callable[[IdentityLink], Awaitable[PanelT | None]],
) -> PanelT | None:
    """``build``'s panel for the customer's record in ``source``, if its rollout serves it."""
    link = record.link_for(source)
    if link is None:
        return None
    rollout = await info.context.rollout.of(source)
    if rollout.serves(info.context.principal):
        return await build(link)
    if rollout.mode is RolloutMode.SHADOW:

        async def compare() -> tuple[ShadowOutcome, str]:
            return await _compare(info, link, await build(link))

        info.context.rollout.shadow(source, compare)
    return None


async def _compare(info: Info, link: IdentityLink, panel: object) -> tuple[ShadowOutcome, str]:
    if panel is None:
        return ShadowOutcome.DISAGREE, NO_RECORD
    found: str | None
    if isinstance(panel, ShadowProbe):
        found = await panel.shadow_record_id(info)
    else:
        meta = getattr(panel, "meta", None)
        found = str(meta.source_record_id) if isinstance(meta, PanelMeta) else None
    if found != link.external_id:
        return ShadowOutcome.DISAGREE, OTHER_RECORD
    return ShadowOutcome.AGREE, MATCH
