"""The figures of a fair-share run (``python -m bench.fair_share``): each run's summary, the
verdicts against the issue's targets, and the markdown table written beside the JSON."""

from __future__ import annotations

from typing import Any

from bench.report import percentile

#: The issue's targets: agents' p99 beside analysts at most this factor of alone ...
AGENTS_WITHIN = 1.15
#: ... and analysts served beside agents at least this share of what they are served alone.
ANALYSTS_AT_LEAST = 0.70
#: Cores no process wanted, on average over a run, for the machine to count as having room.
IDLE = 0.5


def merged(halves: list[dict[str, Any]]) -> dict[str, Any]:
    """Two halves of one kind of load as one: counts added, latencies pooled."""
    total: dict[str, Any] = {"latencies_ms": [], "error_samples": []}
    for half in halves:
        for key in ("sent", "ok", "partial", "failed", "refused"):
            total[key] = total.get(key, 0) + half[key]
        total["latencies_ms"] += half["latencies_ms"]
        total["error_samples"] = (total["error_samples"] + half["error_samples"])[:5]
    return total


def summary(load: dict[str, Any], cores: tuple[float, float]) -> dict[str, Any]:
    latencies = sorted(load["latencies_ms"])
    return {
        "gateway_cores": cores[0],
        # The machine is shared: cores no process wanted, the gateway's or anyone's.
        "machine_idle_cores": cores[1],
        "requests": load["sent"],
        # Served: answered whole; partial: some panel missing; refused: shed by the gateway
        # in whole or part (RATE_LIMITED, UPSTREAM_BUSY); failed: no data at all.
        "served": load["ok"],
        "partial": load["partial"],
        "refused": load["refused"],
        "failed": load["failed"],
        "error_samples": load["error_samples"],
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
    }


ROWS = (
    ("agents alone", "agents_alone"),
    ("agents beside analysts", "agents_beside_analysts"),
    ("analysts alone", "analysts_alone"),
    ("analysts beside agents", "analysts_beside_agents"),
)


def markdown(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [
        f"# Fair share, {result['started_at']}",
        "",
        f"{config['customers']} customers, {config['latency_ms']:g} ms per upstream call, "
        f"{config['workers']} gateway worker(s), {result['machine']['cpus']} CPUs; agents "
        f"{config['rate']:g} whole views/s for {config['duration']:g} s; "
        f"{config['analysts']} analysts each sending a page of 50 customers with panels as soon "
        f"as the last came back, for {config['duration'] + 4:g} s. Each alone run is two "
        "halves, one before and one after the run of both, so that the shared machine's "
        "drift weighs on both sides alike.",
        "",
        f"Analysts' slots per source and gateway worker: {config['analyst_slots'] or 'default'}. "
        "Analysts served "
        + (
            "by a process of their own at a lower CPU priority (SCV_ANALYST_PORT). "
            if config["separate_analysts"]
            else "by the same workers as agents. "
        )
        + "Cost budgets per principal: "
        + ("on (the gateway's defaults)." if config["budget"] else "off."),
        "",
        "| run | requests | served | partial | refused | failed | p50 ms | p95 ms | p99 ms "
        "| gateway cores busy | machine cores idle |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, key in ROWS:
        row = result[key]
        lines.append(
            f"| {name} | {row['requests']} | {row['served']} | {row['partial']} "
            f"| {row['refused']} | {row['failed']} | {row['p50_ms']} | {row['p95_ms']} "
            f"| {row['p99_ms']} | {row['gateway_cores']} | {row['machine_idle_cores']} |"
        )
    lines += [
        "",
        f"Upstream calls (all systems): {result['upstream_calls']}. Cores busy are the "
        f"gateway's processes' CPU seconds per second (of {result['machine']['cpus']}; the "
        f"rows beside each other share one run); system load average at the end "
        f"{result['load_average']}.",
        "",
        *result["verdicts"],
        "",
        "Analysts' lanes at the end of the run beside agents (/metrics): "
        + (
            ", ".join(f"{k} {v}" for k, v in sorted(result["fair_share_after_both"].items()))
            or "nothing to show"
        ),
        "",
    ]
    for name, key in ROWS[2:]:
        if result[key]["error_samples"]:
            lines += [f"{name}: error samples {', '.join(result[key]['error_samples'])}", ""]
    return "\n".join(lines)


def verdicts(result: dict[str, Any], cpus: int) -> list[str]:
    """The two ratios against their targets, and whether analysts were refused while the
    gateway had cores to spare."""
    alone, beside = result["agents_alone"]["p99_ms"], result["agents_beside_analysts"]["p99_ms"]
    p99_ratio = beside / alone if alone else float("inf")
    served_alone = result["analysts_alone"]["served"]
    served_beside = result["analysts_beside_agents"]["served"]
    served_ratio = served_beside / served_alone if served_alone else 0.0
    result["p99_ratio"] = round(p99_ratio, 3)
    result["served_ratio"] = round(served_ratio, 3)
    # Idle capacity: the gateway below its cores and the (shared) machine with half a core
    # that no process wanted.
    idle_refusals = sum(
        result[key]["refused"]
        for key in ("analysts_alone", "analysts_beside_agents")
        if result[key]["gateway_cores"] < cpus and result[key]["machine_idle_cores"] >= IDLE
    )
    result["refused_with_idle_cores"] = idle_refusals
    return [
        f"{'ok  ' if p99_ratio <= AGENTS_WITHIN else 'MISS'} agents' p99 beside analysts "
        f"{beside} ms vs alone {alone} ms: x{p99_ratio:.2f} (target at most x{AGENTS_WITHIN:g})",
        "",
        f"{'ok  ' if served_ratio >= ANALYSTS_AT_LEAST else 'MISS'} analysts' pages served "
        f"beside agents {served_beside} vs alone {served_alone}: x{served_ratio:.2f} "
        f"(target at least x{ANALYSTS_AT_LEAST:g})",
        "",
        f"{'ok  ' if idle_refusals == 0 else 'MISS'} analysts' requests refused while the "
        f"gateway had idle cores: {idle_refusals}",
    ]


def mean(cores: list[tuple[float, float]]) -> tuple[float, float]:
    """The halves' cores busy and idle, averaged (the halves are of equal length)."""
    return (
        round(sum(busy for busy, _ in cores) / len(cores), 2),
        round(sum(idle for _, idle in cores) / len(cores), 2),
    )
