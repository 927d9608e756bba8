"""W3C ``traceparent``: which headers are joined, and what a new trace looks like."""

from __future__ import annotations

import re

import pytest

from app.observability.trace_context import TraceContext, parse_traceparent, trace_context_from

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{PARENT_ID}-01"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def test_a_valid_traceparent_is_parsed() -> None:
    assert parse_traceparent(VALID) == TraceContext(TRACE_ID, PARENT_ID, "01")


def test_the_flags_are_kept_as_sent() -> None:
    parsed = parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-00")
    assert parsed is not None
    assert parsed.flags == "00"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"01-{TRACE_ID}-{PARENT_ID}-01",  # only version 00 is understood
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",  # the spec asks for lower-case hex
        f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",  # trace id one digit short
        f"00-{TRACE_ID}-{PARENT_ID}0-01",  # parent id one digit long
        f"00-{TRACE_ID}-{PARENT_ID}-1",  # flags one digit short
        f"00-{TRACE_ID}-{PARENT_ID}-0g",
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
        f"00_{TRACE_ID}_{PARENT_ID}_01",
    ],
)
def test_a_malformed_traceparent_is_refused(header: str | None) -> None:
    assert parse_traceparent(header) is None


def test_an_all_zero_trace_id_is_refused() -> None:
    assert parse_traceparent(f"00-{'0' * 32}-{PARENT_ID}-01") is None


def test_an_all_zero_parent_id_is_refused() -> None:
    assert parse_traceparent(f"00-{TRACE_ID}-{'0' * 16}-01") is None


def test_the_clients_trace_is_joined() -> None:
    assert trace_context_from(VALID) == TraceContext(TRACE_ID, PARENT_ID, "01")


@pytest.mark.parametrize("header", [None, "garbage", f"00-{'0' * 32}-{PARENT_ID}-01"])
def test_without_a_valid_traceparent_a_sampled_trace_is_started(header: str | None) -> None:
    started = trace_context_from(header)
    assert parse_traceparent(f"00-{started.trace_id}-{started.parent_id}-01") == started
    assert started.flags == "01"
    assert started.trace_id != TRACE_ID


def test_two_new_traces_differ() -> None:
    assert trace_context_from(None).trace_id != trace_context_from(None).trace_id


def test_a_child_traceparent_keeps_the_trace_and_draws_a_new_span() -> None:
    context = TraceContext(TRACE_ID, PARENT_ID, "01")
    child = context.child_traceparent()
    found = TRACEPARENT.fullmatch(child)
    assert found is not None
    trace_id, span_id, flags = found.groups()
    assert (trace_id, flags) == (TRACE_ID, "01")
    assert span_id not in {PARENT_ID, "0" * 16}
    assert parse_traceparent(child) is not None
