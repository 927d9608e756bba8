"""``scv``: the gateway's command line. Every subcommand has ``--help``."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr, ValidationError

from adapters.registry import SOURCES
from adapters.settings import SandboxPlace
from app.settings import Settings


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``SCV_CONFIG_FILE``), or a clear exit."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        sys.exit("invalid settings:\n" + "\n".join(lines))


def gateway_url(settings: Settings) -> str:
    """Where this machine reaches the gateway ``settings`` describe (``SCV_HOST``:``SCV_PORT``);
    a gateway listening on every address is reached on loopback."""
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def _positive_seconds(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {raw}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {raw}")
    return value


def with_sandbox_port(
    settings: Settings, port: int, *, database_url: str | None = None
) -> Settings:
    """``settings`` with every source pointed at the sandbox on ``port`` (and the sandbox's
    databases, if it has them, on the PostgreSQL server at ``database_url``)."""
    place = SandboxPlace(http_url=f"http://127.0.0.1:{port}", database_url=database_url)
    update = {spec.name: spec.in_sandbox(settings.source(spec.source), place) for spec in SOURCES}
    return settings.model_copy(update=update)


def cmd_demo(args: argparse.Namespace) -> None:
    from app.demo.runner import run_demo
    from app.observability.logs import configure_logging

    settings = load_settings(demo=True)
    configure_logging(settings.log_level)
    # The sandbox's databases (the legacy orders) live on the demo's own PostgreSQL server.
    server = demo_database_url(settings)
    settings = with_sandbox_port(
        settings.model_copy(update={"database_url": SecretStr(server)}),
        args.sandbox_port,
        database_url=server,
    )
    run_demo(settings, sandbox_port=args.sandbox_port, seed=args.seed, customers=args.customers)


def demo_database_url(settings: Settings) -> str:
    """The configured PostgreSQL, or the embedded one under ``data_dir`` (started now)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from app.store.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir)


def cmd_serve(args: argparse.Namespace) -> None:
    from app.observability.logs import configure_logging

    settings = load_settings()
    auth = settings.auth
    if not (settings.demo or auth.jwks_url or auth.public_key_pem or auth.public_key_file):
        sys.exit(
            "no key to check bearer tokens with: set SCV_AUTH__JWKS_URL, "
            "SCV_AUTH__PUBLIC_KEY_PEM or SCV_AUTH__PUBLIC_KEY_FILE (or SCV_DEMO=true)"
        )
    if not settings.demo and settings.interactions.signing_key_file is None:
        sys.exit(
            "no key to sign interaction tokens with: set SCV_INTERACTIONS__SIGNING_KEY_FILE to a "
            "PEM EC P-256 private key, the same file on every instance (or SCV_DEMO=true)"
        )
    configure_logging(settings.log_level)
    several_processes = settings.workers > 1 or (
        settings.analyst_port is not None and settings.audience == "all"
    )
    if several_processes:
        settings = prepare_shared_state(settings)
    if settings.analyst_port is not None and settings.audience == "all":
        serve_two_groups(settings)
        return
    serve_group(settings)


def prepare_shared_state(settings: Settings) -> Settings:
    """What every process must share, made once, before any of them starts.

    In demo mode each process would otherwise generate the demo keys (and start the
    embedded PostgreSQL) at the same moment, under the same directory, and the last key
    written would leave the others checking tokens with a key nobody signs with. The
    database URL is passed on in the environment, which the workers read their settings from.
    """
    if settings.demo:
        from app.interactions.tokens import load_signing_key
        from app.security.demo_keys import ensure_demo_keys

        ensure_demo_keys(settings.data_dir)
        load_signing_key(settings.interactions, demo=True, data_dir=settings.data_dir)
    if settings.database_url is None:
        from app.store.embedded import start_embedded_postgres

        url = start_embedded_postgres(settings.data_dir)
        os.environ["SCV_DATABASE_URL"] = url
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    return settings


def serve_two_groups(settings: Settings) -> None:
    """Agents (and every other role but analysts) on SCV_PORT, analysts on SCV_ANALYST_PORT.

    The analysts' group is a child ``scv serve`` at a lower CPU priority: an analyst's page
    of customers costs a process some 100 ms of CPU, and on the same processes as agents'
    queries it would hold their event loops up; in processes of their own, at a lower
    priority, the operating system gives agents' processes the CPU first. Both groups'
    metrics meet in one directory, so either port's /metrics shows them all.
    """
    if settings.analyst_port == settings.port:
        sys.exit("SCV_ANALYST_PORT must differ from SCV_PORT")
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scv-metrics-")
    child_env = {
        **os.environ,
        "SCV_PORT": str(settings.analyst_port),
        "SCV_WORKERS": str(settings.analyst_workers),
        "SCV_AUDIENCE": "analysts",
    }
    niceness = settings.analyst_niceness
    analysts = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=child_env,
        # Before exec, in the child: no threads of ours run there yet.
        preexec_fn=lambda: os.nice(niceness),
    )
    os.environ["SCV_AUDIENCE"] = "agents"
    try:
        serve_group(settings.model_copy(update={"audience": "agents"}))
    finally:
        analysts.terminate()
        try:
            analysts.wait(timeout=15)
        except subprocess.TimeoutExpired:
            analysts.kill()


def serve_group(settings: Settings) -> None:
    """Serve ``settings.workers`` processes of the gateway on ``settings.port``."""
    import uvicorn

    from app.main import create_app
    from app.observability.collector import settle_for_serving

    if settings.workers == 1:
        app = create_app(settings)
        settle_for_serving()
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    # Several workers: uvicorn starts each from an import string, and each builds its own
    # app (settings come from the same environment). Their metrics meet in one directory.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scv-metrics-")
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )


def cmd_sandbox(args: argparse.Namespace) -> None:
    from sandbox.cli import main_from_args

    main_from_args(args)


def cmd_sync(args: argparse.Namespace) -> None:
    from app.demo.runner import run_sync
    from app.observability.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    asyncio.run(run_sync(settings, full=args.full))


def cmd_token(args: argparse.Namespace) -> None:
    from app.security.demo_keys import ensure_demo_keys, mint_token

    settings = load_settings()
    keys = ensure_demo_keys(settings.data_dir)
    print(mint_token(keys, settings.auth, subject=args.sub, role=args.role, ttl_seconds=args.ttl))


def cmd_ivr_call(args: argparse.Namespace) -> None:
    import httpx

    from app.cli.ivr_call import IvrCallError, claim_instructions, play_ivr_call
    from app.security.demo_keys import ensure_demo_keys, mint_token
    from kernel.models import Source

    settings = load_settings()
    gateway = args.gateway or gateway_url(settings)
    ivr_url = args.ivr or settings.http_source(Source.IVR).base_url
    token = mint_token(
        ensure_demo_keys(settings.data_dir), settings.auth, subject="ivr-sandbox", role="ivr"
    )
    call: dict[str, object] = {
        "auth_method": args.auth_method,
        "auth_result": args.auth_result,
        "auth_score": args.auth_score,
        "audience": settings.handoff.audience,
    }
    call.update({"customer": args.customer} if args.customer else {"phone": args.phone})

    async def play() -> str:
        async with httpx.AsyncClient(timeout=10.0) as http:
            played = await play_ivr_call(
                http, ivr_url=ivr_url, gateway_url=gateway, ivr_token=token, call=call
            )
        return claim_instructions(played, gateway)

    try:
        print(asyncio.run(play()))
    except (IvrCallError, httpx.HTTPError) as exc:
        sys.exit(f"ivr-call failed: {exc}")


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


def cmd_audit_prune(args: argparse.Namespace) -> None:
    from app.observability.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    removed = asyncio.run(_prune_audit_trail(settings))
    print(f"deleted {removed} audit entries older than {settings.audit.retention_days} days")


async def _prune_audit_trail(settings: Settings) -> int:
    from app.security.audit import prune_audit_trail
    from app.store.audit import AuditTrailStore
    from app.store.customers import Store
    from app.wiring.services import database_url

    store = await Store.connect(await database_url(settings), pool_size=1)
    try:
        await store.migrate()
        return await prune_audit_trail(AuditTrailStore(store), settings.audit)
    finally:
        await store.close()


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
    demo.add_argument("--sandbox-port", type=int, default=8100, help="sandbox port (8100)")
    demo.add_argument("--seed", type=int, default=42, help="sandbox data seed (42)")
    demo.add_argument("--customers", type=int, default=2000, help="sandbox customers (2000)")
    demo.set_defaults(func=cmd_demo)

    serve = commands.add_parser("serve", help="run the gateway (SCV_HOST, SCV_PORT, SCV_WORKERS)")
    serve.set_defaults(func=cmd_serve)

    sandbox = commands.add_parser("sandbox", help="run the four sandbox systems")
    try:
        from sandbox.cli import add_sandbox_arguments
    except ModuleNotFoundError as exc:
        if exc.name not in DEMO_EXTRA_MODULES:
            raise
        # A production install: the other commands work; this one says what it needs.
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
    sync.set_defaults(func=cmd_sync)

    token = commands.add_parser(
        "token", help="mint a bearer token with the demo key under SCV_DATA_DIR (demo only)"
    )
    token.add_argument("--role", required=True, choices=sorted(ROLES), help="the token's role")
    token.add_argument("--sub", default="agent-1", help="the token's subject (agent-1)")
    token.add_argument(
        "--ttl", type=_positive_seconds, default=3600, help="seconds until it expires (3600)"
    )
    token.set_defaults(func=cmd_token)

    ivr_call = commands.add_parser(
        "ivr-call",
        help="play a call on the sandbox IVR and hand it to the gateway (demo keys)",
    )
    caller = ivr_call.add_mutually_exclusive_group(required=True)
    caller.add_argument("--customer", help="a named customer: ada, grace, alan, ...")
    caller.add_argument("--phone", help="the caller's number, e.g. +442079460018")
    ivr_call.add_argument(
        "--auth-method", default="PIN", choices=["PIN", "OTP", "KBA", "VOICE_BIOMETRIC"]
    )
    ivr_call.add_argument(
        "--auth-result",
        default="AUTHENTICATED",
        choices=["AUTHENTICATED", "NOT_AUTHENTICATED", "INCONCLUSIVE"],
    )
    ivr_call.add_argument("--auth-score", type=float, default=0.97, help="0..1 (0.97)")
    ivr_call.add_argument("--gateway", help="the gateway (http://SCV_HOST:SCV_PORT)")
    ivr_call.add_argument("--ivr", help="the sandbox IVR (SCV_IVR__BASE_URL)")
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
        default=None,
        help="the gateway (default: http://SCV_HOST:SCV_PORT, as `scv serve` listens)",
    )
    status.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for each answer (5)"
    )
    status.set_defaults(func=cmd_status)
    audit_prune = commands.add_parser(
        "audit-prune",
        help="delete audit entries older than SCV_AUDIT__RETENTION_DAYS (the only way out)",
    )
    audit_prune.set_defaults(func=cmd_audit_prune)
    return parser


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
