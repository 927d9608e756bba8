"""The CLI's argument types: a value in bounds is taken, anything else refused in words."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from app.cli.environment import count, port, positive_number, positive_seconds, share


@pytest.mark.parametrize(
    ("parse", "raw", "value"),
    [
        (positive_seconds, "1", 1),
        (positive_number, "0.5", 0.5),
        (share, "0", 0.0),
        (share, "1", 1.0),
        (count, "3", 3),
        (port, "65535", 65535),
    ],
)
def test_a_value_in_bounds_is_taken(
    parse: Callable[[str], object], raw: str, value: object
) -> None:
    assert parse(raw) == value


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (positive_seconds, "-5", "must be at least 1 second, not -5"),
        (positive_seconds, "1.5", "not a whole number of seconds: 1.5"),
        (positive_number, "0", "must be above 0, not 0"),
        (positive_number, "inf", "must be above 0, not inf"),
        (positive_number, "nan", "must be above 0, not nan"),
        (share, "1.01", "must be between 0 and 1, not 1.01"),
        (share, "half", "not a number: half"),
        (count, "0", "must be at least 1, not 0"),
        (port, "0", "must be between 1 and 65535, not 0"),
        (port, "http", "not a port number: http"),
    ],
)
def test_anything_else_is_refused_in_words(
    parse: Callable[[str], object], raw: str, message: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
        parse(raw)
