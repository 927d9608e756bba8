"""The fixtures of the identity sync's tests: the fake systems, read over several pages."""

from __future__ import annotations

import pytest

from tests.fake_systems import FakeSystems, named_customers


@pytest.fixture
def systems() -> FakeSystems:
    # Two records a page, so that every source is read over several pages.
    return named_customers(page_size=2)
