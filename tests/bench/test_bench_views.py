"""``bench.ab --a-without``: the whole view less one panel, still a valid document."""

from __future__ import annotations

import pytest
from graphql import parse

from bench.scenarios import WHOLE_VIEW, view_without


@pytest.mark.parametrize("panel", ["profile", "billing", "support", "orders"])
def test_a_panel_is_taken_out_whole_and_the_rest_stays(panel: str) -> None:
    view = view_without(WHOLE_VIEW, panel)

    parse(view)
    assert f"\n    {panel} {{" not in view
    others = {"profile", "billing", "support", "orders"} - {panel}
    assert all(f"\n    {other} {{" in view for other in others)


def test_a_panel_the_view_has_not_is_refused() -> None:
    with pytest.raises(ValueError, match="no shipments panel"):
        view_without(WHOLE_VIEW, "shipments")
