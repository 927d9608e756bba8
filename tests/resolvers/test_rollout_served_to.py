"""``RequestRollout.served_to``, the rollout's part of a whole answer's key: the same text for
everyone while no source is in pilot (kept per modes mapping), the principal's own with a
pilot, and a new text as soon as the gate hands new modes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutMode, ShadowOutcome, SourceRollout
from resolvers.rollout import RequestRollout

IN_COHORT = Principal(subject="agent-1", role="agent")
OUTSIDE = Principal(subject="agent-2", role="agent")


class Gate:
    """Hands ``modes`` as they stand: a new mapping each time a test sets them."""

    def __init__(self, modes: Mapping[Source, SourceRollout]) -> None:
        self.modes = modes

    async def current(self) -> Mapping[Source, SourceRollout]:
        return self.modes

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        raise AssertionError("no shadow read here")

    async def change(self, source: Source, mode: RolloutMode, **_: object) -> SourceRollout:
        raise AssertionError("no change here")


def entry(text: str, source: Source) -> str:
    return next(part for part in text.split(",") if part.startswith(f"{source.value}:"))


async def test_without_a_pilot_everyone_reads_the_same_text_and_a_change_is_seen() -> None:
    gate = Gate({Source.CRM: SourceRollout(Source.CRM, RolloutMode.SHADOW)})
    first = await RequestRollout(gate).served_to(IN_COHORT)

    assert await RequestRollout(gate).served_to(OUTSIDE) == first
    assert entry(first, Source.CRM) == f"{Source.CRM.value}:SHADOW:0"
    assert entry(first, Source.SUPPORT) == f"{Source.SUPPORT.value}:ON:1"

    gate.modes = {Source.CRM: SourceRollout(Source.CRM, RolloutMode.OFF)}
    changed = await RequestRollout(gate).served_to(OUTSIDE)
    assert entry(changed, Source.CRM) == f"{Source.CRM.value}:OFF:0"


async def test_a_pilot_source_reads_differently_in_and_outside_its_cohort() -> None:
    gate = Gate(
        {
            Source.CRM: SourceRollout(
                Source.CRM, RolloutMode.PILOT, pilot_subjects=frozenset({IN_COHORT.subject})
            )
        }
    )
    for _ in range(2):
        inside = await RequestRollout(gate).served_to(IN_COHORT)
        outside = await RequestRollout(gate).served_to(OUTSIDE)
        assert entry(inside, Source.CRM) == f"{Source.CRM.value}:PILOT:1"
        assert entry(outside, Source.CRM) == f"{Source.CRM.value}:PILOT:0"


async def test_the_text_lists_every_source_in_order_of_its_name() -> None:
    text = await RequestRollout(Gate({})).served_to(OUTSIDE)

    assert [part.split(":")[0] for part in text.split(",")] == sorted(s.value for s in Source)
    assert await RequestRollout().served_to(OUTSIDE) == ""
