"""Command line of the sandbox: ``scv sandbox`` and ``python -m sandbox`` share these flags.

``app.cli.commands`` adds them to its ``sandbox`` subcommand with ``add_sandbox_arguments`` and
hands the parsed namespace to ``main_from_args``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from sandbox.entry import SandboxServers
from sandbox.server import SYSTEMS, run_sandbox
from sandbox.webhooks import WEBHOOK_SYSTEMS


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {raw}")
    return value


def _non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {raw}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {raw}")
    return value


def _probability(raw: str) -> float:
    value = _non_negative_float(raw)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {raw}")
    return value


def _port(raw: str) -> int:
    value = _non_negative_int(raw)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port: {raw}")
    return value


def _webhook_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or any(c.isspace() for c in raw):
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {raw}")
    return raw


def _webhook_secret(raw: str) -> tuple[str, str]:
    system, equals, secret = raw.partition("=")
    if not equals or system not in WEBHOOK_SYSTEMS or not secret:
        raise argparse.ArgumentTypeError(
            f"expected SYSTEM=SECRET with SYSTEM one of {', '.join(WEBHOOK_SYSTEMS)}"
        )
    return system, secret


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's flags to ``parser``."""
    serve = parser.add_argument_group("serving")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=_port, default=8100, help="port to listen on (0: any free port)"
    )
    serve.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (info and below also log each request)",
    )
    serve.add_argument(
        "--environment-file",
        type=Path,
        default=None,
        help="once serving, write the gateway settings of the other accounts (each a tenant: "
        "SCV_TENANCY__TENANTS, SCV_TENANTS__...) to this file, one KEY=VALUE a line",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--seed", type=int, default=42, help="random seed: the same seed gives the same data"
    )
    data.add_argument(
        "--customers",
        type=_non_negative_int,
        default=2000,
        help="generated customers, in addition to the six named ones",
    )
    places = parser.add_argument_group(
        "systems kept outside HTTP",
        "where the registered systems that are not APIs (a database: sandbox/orders) are "
        "created at start; each is created on what it is given, and skipped without it",
    )
    places.add_argument(
        "--database-server",
        default=None,
        metavar="URL",
        help="PostgreSQL server (an admin's postgresql:// URL) to create the systems kept in "
        "a database on, each with its read-only role (recreated at each start)",
    )
    places.add_argument(
        "--files-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder to write the systems kept as files to (the legacy orders as SQLite)",
    )
    hooks = parser.add_argument_group(
        "webhooks", "changes made through the write endpoints, posted to the gateway"
    )
    hooks.add_argument(
        "--webhook-url",
        type=_webhook_url,
        default=None,
        metavar="URL",
        help="receiver base URL: billing posts to URL/billing, crm to URL/crm, support to "
        "URL/support (e.g. http://127.0.0.1:8000/webhooks); also POST /_sandbox/webhooks",
    )
    hooks.add_argument(
        "--webhook-secret",
        type=_webhook_secret,
        action="append",
        default=[],
        metavar="SYSTEM=SECRET",
        help="signing secret of one system's webhooks (default: the gateway's defaults)",
    )
    faults = parser.add_argument_group(
        "faults", "injected into every request of the systems chosen by --fault-system"
    )
    faults.add_argument(
        "--fault-system",
        action="append",
        choices=[*SYSTEMS, "all"],
        help="system the fault flags apply to; repeat for several (default: all)",
    )
    faults.add_argument(
        "--latency-ms", type=_non_negative_float, default=0.0, help="added to every answer"
    )
    faults.add_argument(
        "--jitter-ms",
        type=_non_negative_float,
        default=0.0,
        help="a uniform random 0..N ms added on top of --latency-ms",
    )
    faults.add_argument(
        "--error-rate",
        type=_probability,
        default=0.0,
        help="share (0..1) of requests answered --error-status with the vendor's error body",
    )
    faults.add_argument(
        "--error-status",
        type=int,
        choices=[500, 503],
        default=500,
        help="HTTP status of injected errors",
    )
    faults.add_argument(
        "--rate-limit-retry-after",
        type=_non_negative_int,
        default=None,
        metavar="SECONDS",
        help="answer every request 429 with this Retry-After",
    )
    faults.add_argument(
        "--hang",
        action="store_true",
        help="never answer (until DELETE /_sandbox/faults or shutdown)",
    )
    faults.add_argument(
        "--malformed-json", action="store_true", help="answer 200 with a body that is not JSON"
    )


def fault_systems_from(choices: Sequence[str] | None) -> tuple[str, ...]:
    """The systems named by ``--fault-system`` (all when absent or ``all``)."""
    if not choices or "all" in choices:
        return SYSTEMS
    return tuple(dict.fromkeys(choices))


def main_from_args(args: argparse.Namespace) -> None:
    """Serve the sandbox as ``args`` (parsed with ``add_sandbox_arguments``) say."""
    run_sandbox(
        host=args.host,
        port=args.port,
        seed=args.seed,
        customers=args.customers,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        error_status=args.error_status,
        rate_limit_retry_after=args.rate_limit_retry_after,
        hang=args.hang,
        malformed_json=args.malformed_json,
        fault_systems=fault_systems_from(args.fault_system),
        log_level=args.log_level,
        webhook_url=args.webhook_url,
        webhook_secrets=dict(args.webhook_secret),
        servers=SandboxServers(database_url=args.database_server, files_dir=args.files_dir),
        environment_file=args.environment_file,
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """A stand-alone parser with the sandbox's flags."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the sandbox's systems (sandbox/registry.py): its APIs on one port, "
        "its databases created on a server and in a folder given.",
    )
    add_sandbox_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sandbox``."""
    main_from_args(build_parser("python -m sandbox").parse_args(argv))
