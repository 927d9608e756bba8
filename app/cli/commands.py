"""``scv``: the gateway's command line. Every subcommand has ``--help``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from pathlib import Path

from pydantic import SecretStr

from app.cli.audit_prune import cmd_audit_prune
from app.cli.environment import (
    add_tenant_argument,
    count,
    existing_demo_keys,
    gateway_url,
    http_url,
    load_settings,
    port,
    port_free_or_exit,
    positive_number,
    positive_seconds,
    served_tenant,
    share,
    with_sandbox_port,
    word,
)
from app.cli.ivr_call import cmd_ivr_call
from app.cli.keys import add_keys_command
from app.cli.readiness import Thresholds
from app.cli.serve import cmd_serve
from app.settings import Settings


def cmd_demo(args: argparse.Namespace) -> None:
    from app.demo.runner import run_demo
    from app.observability.logs import configure_logging

    settings = load_settings(demo=True)
    sandbox_port = args.sandbox_port or settings.sandbox_port
    if sandbox_port == settings.port:
        sys.exit(f"the sandbox and the gateway cannot share port {sandbox_port}")
    # Before anything starts: a port taken now would end in a traceback after the sync.
    port_free_or_exit("127.0.0.1", sandbox_port, "SCV_SANDBOX_PORT (make run SANDBOX_PORT=)")
    port_free_or_exit(settings.host, settings.port, "SCV_PORT")
    configure_logging(settings.log_level)
    # The sandbox's systems kept in a database live on the demo's own PostgreSQL server,
    # made by its owner; the gateway and the sync connect as the run-time role (no DDL).
    if settings.database_url is not None:
        server = runtime = settings.database_url.get_secret_value()
    else:
        from app.store.roles import embedded_store

        embedded = asyncio.run(
            embedded_store(settings.data_dir, default_tenant=settings.tenancy.default_tenant)
        )
        server, runtime = embedded.owner_url, embedded.runtime_url
    settings = with_sandbox_port(
        settings.model_copy(
            update={
                "database_url": SecretStr(runtime),
                "database_migration_url": SecretStr(server),
            }
        ),
        sandbox_port,
        database_url=server,
    )
    run_demo(settings, sandbox_port=sandbox_port, seed=args.seed, customers=args.customers)


def cmd_sandbox(args: argparse.Namespace) -> None:
    from sandbox.cli import main_from_args

    main_from_args(args)


def cmd_sync(args: argparse.Namespace) -> None:
    from app.demo.runner import run_sync
    from app.observability.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    tenant = served_tenant(settings, args.tenant, "sync")
    asyncio.run(run_sync(settings, full=args.full, tenant=tenant))


def cmd_token(args: argparse.Namespace) -> None:
    from app.demo.sandbox_tenants import with_demo_tenants
    from app.security.demo_keys import mint_token

    settings = with_demo_tenants(load_settings())  # and the demo's tenants (globex)
    tenants = [served_tenant(settings, args.tenant, "token")]
    keys = existing_demo_keys(settings)
    print(
        mint_token(
            keys,
            settings.auth,
            subject=args.sub,
            role=args.role,
            ttl_seconds=args.ttl,
            tenants=tenants,
        )
    )


def cmd_schema(args: argparse.Namespace) -> None:
    from resolvers.schema import schema_sdl

    sdl = schema_sdl()
    if args.check:
        current = Path(args.output).read_text() if Path(args.output).exists() else ""
        if current != sdl:
            sys.exit(f"{args.output} differs from the code: run `make schema`")
        return
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"wrote {args.output}")


def cmd_status(args: argparse.Namespace) -> None:
    import httpx

    from app.cli.status import render_status, status_report

    url = (args.url or gateway_url(load_settings())).rstrip("/")
    try:
        with httpx.Client(timeout=args.timeout) as client:
            readyz = client.get(f"{url}/readyz")
            metrics = client.get(f"{url}/metrics")
    except httpx.HTTPError as exc:
        sys.exit(f"cannot reach the gateway at {url}: {type(exc).__name__} {exc}")
    # An unready gateway answers 503 with the same body, which is worth showing.
    if readyz.status_code not in {200, 503} or metrics.status_code != 200:
        sys.exit(
            f"unexpected answer from the gateway at {url}: /readyz {readyz.status_code}, "
            f"/metrics {metrics.status_code}"
        )
    try:
        body = readyz.json()
    except ValueError:
        sys.exit(f"{url}/readyz did not answer JSON: is this the gateway?")
    print(render_status(status_report(body, metrics.text), url), end="")


def cmd_migrate(args: argparse.Namespace) -> None:
    from app.cli.migrate import migrate_store
    from app.observability.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    applied = asyncio.run(migrate_store(settings, args.url))
    print(f"applied {len(applied)} migration(s){': ' if applied else ''}{', '.join(applied)}")


def cmd_readiness(args: argparse.Namespace) -> None:
    import httpx

    from adapters.registry import SOURCES
    from app.cli.readiness import readiness_report, render_readiness

    url = (args.url or gateway_url(load_settings())).rstrip("/")
    try:
        with httpx.Client(timeout=args.timeout) as client:
            metrics = client.get(f"{url}/metrics")
    except httpx.HTTPError as exc:
        sys.exit(f"cannot reach the gateway at {url}: {type(exc).__name__} {exc}")
    if metrics.status_code != 200:
        sys.exit(f"unexpected answer from the gateway at {url}: /metrics {metrics.status_code}")
    limits = Thresholds(
        min_mapping_coverage=args.min_mapping_coverage,
        max_unmapped_words=args.max_unmapped_words,
        min_link_rate=args.min_link_rate,
        max_error_rate=args.max_error_rate,
        min_shadow_agreement=args.min_shadow_agreement,
    )
    items = readiness_report(metrics.text, [spec.source.value for spec in SOURCES], limits)
    print(render_readiness(items, url), end="")
    if any(item.blocker for item in items):
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    from app.security.auth import ROLES

    parser = argparse.ArgumentParser(
        prog="scv",
        description="Single customer view: a GraphQL gateway over billing, CRM, support and IVR."
        " Settings come from SCV_* environment variables (see README.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run the whole demo: PostgreSQL, sandbox, sync, gateway (make run)"
    )
    demo.add_argument(
        "--sandbox-port", type=port, default=None, help="sandbox port (SCV_SANDBOX_PORT, 8100)"
    )
    demo.add_argument("--seed", type=int, default=42, help="sandbox data seed (42)")
    demo.add_argument("--customers", type=count, default=2000, help="sandbox customers (2000)")
    demo.set_defaults(func=cmd_demo)

    serve = commands.add_parser(
        "serve",
        help="run the gateway (SCV_HOST, SCV_PORT, SCV_WORKERS)",
        description="Run the gateway. It takes no arguments: it reads SCV_* settings from the "
        "environment (and SCV_CONFIG_FILE).",
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.set_defaults(func=cmd_serve)

    sandbox = commands.add_parser("sandbox", help="run the four sandbox systems")
    try:
        from sandbox.cli import add_sandbox_arguments
    except ModuleNotFoundError as exc:
        if exc.name not in DEMO_EXTRA_MODULES | {"sandbox"}:
            raise
        # A production install (the image has no sandbox package at all): the other
        # commands work; this one says what it needs.
        missing = _demo_extra_missing(exc)
        sandbox.set_defaults(func=lambda _args: sandbox.exit(2, missing))
    else:
        add_sandbox_arguments(sandbox)
        sandbox.set_defaults(func=cmd_sandbox)

    sync = commands.add_parser(
        "sync",
        help="link every record of billing, CRM and support into customers (incremental "
        "where a previous run left cursors)",
    )
    sync.add_argument(
        "--full",
        action="store_true",
        help="read every source in full, ignoring the cursors of previous runs",
    )
    add_tenant_argument(sync, "the tenant whose customers it links, from its own cursors")
    sync.set_defaults(func=cmd_sync)

    token = commands.add_parser(
        "token", help="mint a bearer token with the demo key under SCV_DATA_DIR (demo only)"
    )
    token.add_argument("--role", required=True, choices=sorted(ROLES), help="the token's role")
    token.add_argument("--sub", type=word, default="agent-1", help="the token's subject (agent-1)")
    token.add_argument(
        "--ttl", type=positive_seconds, default=3600, help="seconds until it expires (3600)"
    )
    add_tenant_argument(token, "the tenant it acts for")
    token.set_defaults(func=cmd_token)
    add_keys_command(commands)

    ivr_call = commands.add_parser(
        "ivr-call",
        help="play a call on the sandbox IVR and hand it to the gateway (demo keys)",
    )
    caller = ivr_call.add_mutually_exclusive_group(required=True)
    caller.add_argument("--customer", type=word, help="a named customer: ada, grace, alan, ...")
    caller.add_argument("--phone", type=word, help="the caller's number, e.g. +442079460018")
    ivr_call.add_argument(
        "--auth-method", default="PIN", choices=["PIN", "OTP", "KBA", "VOICE_BIOMETRIC"]
    )
    ivr_call.add_argument(
        "--auth-result",
        default="AUTHENTICATED",
        choices=["AUTHENTICATED", "NOT_AUTHENTICATED", "INCONCLUSIVE"],
    )
    ivr_call.add_argument("--auth-score", type=share, default=0.97, help="0..1 (0.97)")
    ivr_call.add_argument("--gateway", type=http_url, help="the gateway (http://SCV_HOST:SCV_PORT)")
    ivr_call.add_argument(
        "--ivr", type=http_url, help="the sandbox IVR (the tenant's SCV_..._IVR__BASE_URL)"
    )
    add_tenant_argument(ivr_call, "the tenant whose IVR account plays the call")
    ivr_call.set_defaults(func=cmd_ivr_call)

    schema = commands.add_parser("schema", help="print or write the GraphQL schema (SDL)")
    schema.add_argument("--output", default="-", help="file to write, or - for standard output (-)")
    schema.add_argument(
        "--check", action="store_true", help="exit 1 if --output differs from the code"
    )
    schema.set_defaults(func=cmd_schema)

    status = commands.add_parser(
        "status",
        help="show a running gateway's sources (state, latency, errors) and last sync",
    )
    status.add_argument(
        "--url",
        type=http_url,
        default=None,
        help="the gateway (default: http://SCV_HOST:SCV_PORT, as `scv serve` listens)",
    )
    status.add_argument(
        "--timeout", type=positive_number, default=5.0, help="seconds to wait for each answer (5)"
    )
    status.set_defaults(func=cmd_status)
    readiness = commands.add_parser(
        "readiness",
        help="each source's integration-readiness checklist from a running gateway; "
        "exit 1 with a launch blocker",
    )
    readiness.add_argument("--url", type=http_url, default=None, help="the gateway (as status)")
    readiness.add_argument(
        "--timeout", type=positive_number, default=5.0, help="seconds to wait (5)"
    )
    defaults = Thresholds()
    for flag, kind, default, meaning in (
        (
            "--min-mapping-coverage",
            float,
            defaults.min_mapping_coverage,
            "share of a source's taxonomy fields with no unmapped word",
        ),
        (
            "--max-unmapped-words",
            int,
            defaults.max_unmapped_words,
            "distinct unmapped vendor words",
        ),
        (
            "--min-link-rate",
            float,
            defaults.min_link_rate,
            "share of the last sync's records linked to a customer",
        ),
        (
            "--max-error-rate",
            float,
            defaults.max_error_rate,
            "share of calls to the source that failed",
        ),
        (
            "--min-shadow-agreement",
            float,
            defaults.min_shadow_agreement,
            "share of shadow reads agreeing with the system of record",
        ),
    ):
        readiness.add_argument(flag, type=kind, default=default, help=f"{meaning} ({default})")
    readiness.set_defaults(func=cmd_readiness)
    audit_prune = commands.add_parser(
        "audit-prune",
        help="delete audit entries older than SCV_AUDIT__RETENTION_DAYS (the only way out)",
    )
    audit_prune.set_defaults(func=cmd_audit_prune)
    migrate = commands.add_parser("migrate", help="apply the store's pending migrations and exit")
    migrate.add_argument(
        "--url",
        help="the schema owner's PostgreSQL URL (default: SCV_DATABASE_MIGRATION_URL, "
        "else SCV_DATABASE_URL)",
    )
    migrate.set_defaults(func=cmd_migrate)
    return parser


def settings_epilog() -> str:
    """The settings ``scv serve`` reads, from the ``Settings`` model, and where they are told."""

    lines = ["settings (environment variables):"]
    for name, field in Settings.model_fields.items():
        env = f"SCV_{name.upper()}"
        about = field.description or ""
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            env += "__*"
            about = about or (annotation.__doc__ or "").strip().split("\n")[0]
        lines.append(
            textwrap.fill(
                f"{env:<32} {about}", width=96, initial_indent="  ", subsequent_indent=" " * 35
            )
        )
    lines.append("each one, with its default: docs/configuration.md (README.md lists the pages)")
    return "\n".join(lines)


#: What the ``demo`` extra installs: a production install has none of them, and the commands
#: that need them (``demo``, ``sandbox``, and any command without ``SCV_DATABASE_URL``) say so.
DEMO_EXTRA_MODULES = frozenset({"pgserver", "stamina"})


def _demo_extra_missing(exc: ModuleNotFoundError) -> str:
    return (
        f"scv: this needs the demo extra ({exc.name} is not installed): "
        "pip install 'scv-gateway[demo]', or give SCV_DATABASE_URL and the systems' URLs\n"
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``scv`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except ModuleNotFoundError as exc:
        if exc.name not in DEMO_EXTRA_MODULES:
            raise
        parser.exit(2, _demo_extra_missing(exc))


if __name__ == "__main__":
    main()
