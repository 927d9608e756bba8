"""Run ``scv serve`` of the checkout in the current directory under a switchable cProfile.

``bench.calls`` starts a gateway with this script (by its path, so that a commit checked out
without it can be measured too): SIGUSR1 starts counting, SIGUSR2 stops and writes the
profile to the path given as the first argument. The rest of the arguments are the CLI's
(``serve``). The profile is switched on from the signal handler, which runs in the main
thread: the thread of the event loop, where every request is served.
"""

from __future__ import annotations

import importlib
import os
import runpy
import signal
import sys
from pathlib import Path
from types import FrameType


def main() -> None:
    output, *cli = sys.argv[1:]
    # The script's own folder (this checkout's bench/) is first on the path; the checkout to
    # run is the current directory, as ``python -m`` from it would have it.
    # Before cProfile is imported: it imports the standard library's ``profile``, which this
    # folder's own profile.py would otherwise stand in for.
    sys.path[0] = os.getcwd()
    profiler = importlib.import_module("cProfile").Profile()

    def start(signum: int, frame: FrameType | None) -> None:
        profiler.enable()

    def stop(signum: int, frame: FrameType | None) -> None:
        profiler.disable()
        written = Path(output)
        profiler.dump_stats(f"{written}.partial")
        Path(f"{written}.partial").rename(written)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["scv", *cli]
    runpy.run_module("app.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
