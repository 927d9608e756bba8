"""``scv sync``'s progress line: counts and rates per source, in place or every few seconds."""

from __future__ import annotations

import io

from app.identity.sync.progress import ProgressLine
from kernel.models import Source
from tests.fakes import ManualClock


def progress(
    *, terminal: bool, interval: float = 5.0
) -> tuple[ProgressLine, io.StringIO, ManualClock]:
    stream, clock = io.StringIO(), ManualClock(100.0)
    line = ProgressLine(stream, interval_seconds=interval, is_terminal=terminal, clock=clock)
    return line, stream, clock


def test_the_line_shows_each_sources_records_and_rate() -> None:
    line, _, clock = progress(terminal=False)
    clock.now = 102.0
    line(Source.CRM, 2_000)
    clock.now = 103.0
    line(Source.BILLING, 500)

    assert line.render(clock.now) == (
        "sync    3.0 s  CRM 2,000 (1,000/s)  BILLING 500 (500/s)  SUPPORT -  ORDERS -"
    )


def test_off_a_terminal_a_plain_line_is_written_every_interval() -> None:
    line, stream, clock = progress(terminal=False, interval=5.0)
    for second in range(1, 12):
        clock.now = 100.0 + second
        line(Source.CRM, second * 100)

    lines = stream.getvalue().splitlines()
    # The first page, then at 5 s and 10 s after the last line written.
    assert [entry.split("CRM ")[1].split(" ")[0] for entry in lines] == ["100", "600", "1,100"]
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_the_line_is_rewritten_in_place_and_ended_by_finish() -> None:
    line, stream, clock = progress(terminal=True)
    clock.now = 101.0
    line(Source.CRM, 100)
    clock.now = 102.0
    line(Source.CRM, 200)
    line.finish()

    written = stream.getvalue()
    assert written.count("\r\x1b[K") == 3
    assert written.endswith("\n")
    assert written.count("\n") == 1


def test_finish_writes_the_final_figures() -> None:
    line, stream, clock = progress(terminal=False, interval=60.0)
    clock.now = 101.0
    line(Source.CRM, 100)
    clock.now = 102.0
    line(Source.SUPPORT, 7)
    line.finish()

    assert "SUPPORT 7" in stream.getvalue().splitlines()[-1]


def test_a_pass_is_timed_from_the_end_of_the_one_before() -> None:
    line, _, clock = progress(terminal=False)
    clock.now = 110.0
    line(Source.CRM, 1_000)  # CRM: 10 s from the start
    clock.now = 112.0
    line(Source.BILLING, 400)  # billing: 2 s from CRM's last page

    assert "BILLING 400 (200/s)" in line.render(clock.now)
