"""Each registered source has its rollout setting, in any case, and a bad one is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.registry import SOURCES
from app.settings import Settings
from kernel.rollout import RolloutMode


def test_every_registered_source_is_on_by_default() -> None:
    settings = Settings()
    assert {spec.source: settings.source(spec.source).rollout.mode for spec in SOURCES} == {
        spec.source: RolloutMode.ON for spec in SOURCES
    }


def test_a_mode_and_cohort_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SOURCES[-1]
    prefix = f"SCV_{spec.name.upper()}__ROLLOUT__"
    monkeypatch.setenv(prefix + "MODE", "pilot")
    monkeypatch.setenv(prefix + "PILOT_QUEUES", '["desk-1"]')

    section = Settings().source(spec.source).rollout
    assert section.mode is RolloutMode.PILOT
    assert section.pilot_queues == frozenset({"desk-1"})


def test_an_unknown_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"SCV_{SOURCES[0].name.upper()}__ROLLOUT__MODE", "halfway")
    with pytest.raises(ValidationError):
        Settings()
