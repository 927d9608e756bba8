"""``python -m bench.profile``: where one gateway worker spends its CPU, by py-spy.

Starts the benchmark's stack with one worker and no upstream latency (the CPU per query
does not depend on it), warms it, then samples the worker with py-spy while the load
process sends whole views, cold (each a different customer) or warm (one customer). Prints
the gateway CPU per request, the share of samples by package (where a sample's innermost
frame is) and the busiest functions of this project including what they call. The raw
collapsed stacks stay in ``bench/results/profile-<scenario>.txt`` for a flame graph tool.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.__main__ import RESULTS, drive
from bench.scenarios import linked_customers, whole_view_bodies
from bench.stack import StackConfig, running_stack

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::\d+)?\)$")
OURS = ("app/", "adapters/", "resolvers/", "kernel/")


def where(frame: str) -> tuple[str, str]:
    """(function, file relative to site-packages or the project) of one py-spy frame."""
    found = _FRAME.match(frame)
    if found is None:
        return frame, ""
    path = found["file"]
    for marker in ("site-packages/", "/lib/python3.11/", str(Path.cwd()) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return found["function"], path


def summarise(raw: Path, top: int) -> str:
    by_package: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = [where(frame) for frame in stack.split(";")]
        package = frames[-1][1].split("/")[0] or "?"
        by_package[
            package if package not in {"app", "adapters", "resolvers", "kernel"} else frames[-1][1]
        ] += samples
        named = {
            f"{fn} ({path})"
            for fn, path in frames
            if path.startswith(OURS) and path not in {"app/cli/commands.py", "app/cli/serve.py"}
        }
        for name in named:
            ours[name] += samples
    if total == 0:
        return "no samples (is py-spy allowed to attach? it needs ptrace permission)"
    own = sum(n for name, n in by_package.items() if name.startswith(OURS))
    lines = [
        f"{total} samples; innermost frame in this project's code (app/, adapters/, "
        f"resolvers/, kernel/): {100 * own / total:.1f}%, in the libraries and the interpreter: "
        f"{100 * (total - own) / total:.1f}%",
        "",
        "innermost frame by package:",
    ]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_package.most_common(top)]
    lines += ["", "this project's functions, including what they call:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in ours.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--scenario", choices=["cold", "warm"], default="cold")
    parser.add_argument("--requests", type=int, default=1500, help="requests sampled (1500)")
    parser.add_argument("--top", type=int, default=25, help="lines per table (25)")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        sys.exit("py-spy is not installed: make install (it is a dev dependency)")
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / f"profile-{args.scenario}.txt"
    with tempfile.TemporaryDirectory(prefix="scv-profile-") as tmp:
        config = StackConfig(Path(tmp), max(3000, args.requests + 200), 0.0, 1)
        with running_stack(config) as stack:
            customers = linked_customers(stack.database_url)
            emails = customers.emails if args.scenario == "cold" else customers.emails[:1]
            bodies = whole_view_bodies(emails)
            warm = {"mode": "concurrency", "concurrency": 4, "requests": 100}
            drive(stack, {**warm, "bodies": bodies[-100:]})
            worker = stack.worker_pids()[0]
            record = [spy, "record", "-p", str(worker), "-r", "200", "-f", "raw", "-o", str(raw)]
            sampler = subprocess.Popen(
                [*record, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(1.0)
            before = stack.gateway_cpu_seconds()
            load = drive(
                stack,
                {
                    "mode": "concurrency",
                    "concurrency": 4,
                    "requests": args.requests,
                    "bodies": bodies[: args.requests],
                },
            )
            cpu = stack.gateway_cpu_seconds() - before
            sampler.send_signal(signal.SIGINT)
            sampler.wait(timeout=30)
    print(
        f"{args.scenario}: {load['sent']} whole views, {load['ok']} answered in full, "
        f"{cpu * 1000 / load['sent']:.2f} ms gateway CPU per request (py-spy's sampling "
        "included: compare shares, not this figure, with bench-ab's)"
    )
    print(summarise(raw, args.top))
    print(f"\nraw stacks: {raw}")


if __name__ == "__main__":
    main()
