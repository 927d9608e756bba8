"""Who a source's rollout serves (``kernel.rollout.SourceRollout.serves``) and its phases."""

from __future__ import annotations

import pytest

from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout

PILOT = SourceRollout(
    Source.ORDERS,
    RolloutMode.PILOT,
    pilot_subjects=frozenset({"agent-7"}),
    pilot_queues=frozenset({"orders-desk"}),
)


@pytest.mark.parametrize(
    ("principal", "served"),
    [
        (Principal("agent-7", "agent"), True),
        (Principal("agent-8", "agent", frozenset({"queue:orders-desk"})), True),
        (Principal("agent-8", "agent", frozenset({"queue:billing"})), False),
        # A scope named like the queue without its prefix is no queue.
        (Principal("agent-8", "agent", frozenset({"orders-desk"})), False),
        (Principal("agent-8", "agent"), False),
    ],
)
def test_pilot_serves_its_cohort_only(principal: Principal, served: bool) -> None:
    assert PILOT.serves(principal) is served


@pytest.mark.parametrize(
    ("mode", "served"),
    [(RolloutMode.ON, True), (RolloutMode.SHADOW, False), (RolloutMode.OFF, False)],
)
def test_other_modes_serve_everyone_or_no_one(mode: RolloutMode, served: bool) -> None:
    # Even a cohort member: the cohort counts in PILOT only.
    rollout = SourceRollout(Source.ORDERS, mode, pilot_subjects=frozenset({"agent-7"}))
    assert rollout.serves(Principal("agent-7", "agent")) is served


def test_one_phase_back() -> None:
    assert [mode.one_back() for mode in RolloutMode] == [
        RolloutMode.OFF,
        RolloutMode.OFF,
        RolloutMode.SHADOW,
        RolloutMode.PILOT,
    ]
