"""Milliseconds from Enter in "Find customer" to every panel rendered, by kind of run (cold:
nothing cached; warm: the gateway's cache answers), kept for the run's closing summary.

A module of its own: the conftest is imported by pytest under a name of its own, so a list
kept there would not be the one the tests append to.
"""

from __future__ import annotations

import statistics

TIMINGS: dict[str, list[int]] = {}


def record_timing(kind: str, milliseconds: int) -> None:
    TIMINGS.setdefault(kind, []).append(milliseconds)


def summary() -> list[str]:
    """One line per kind: its p50, with the number of runs, min and max."""
    return [
        f"{kind}: p50 {statistics.median(runs):.0f} ms over {len(runs)} runs "
        f"(min {min(runs)}, max {max(runs)})"
        for kind, runs in sorted(TIMINGS.items())
    ]
