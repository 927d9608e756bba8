"""``scv serve``: the gateway's processes, one group or two (agents, and analysts apart)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pydantic import SecretStr

from app.cli.environment import load_settings
from app.settings import Settings


def cmd_serve(args: argparse.Namespace) -> None:
    from app.observability.logs import configure_logging

    settings = load_settings()
    auth = settings.auth
    keys = (auth.jwks_url, auth.jwks_file, auth.public_key_pem, auth.public_key_file)
    if not (settings.demo or any(key is not None for key in keys)):
        sys.exit(
            "no key to check bearer tokens with: set SCV_AUTH__JWKS_URL, SCV_AUTH__JWKS_FILE, "
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
        import asyncio

        from app.store.roles import embedded_store

        # Migrated by its owner now; the workers connect as the run-time role (no DDL).
        url = asyncio.run(
            embedded_store(settings.data_dir, default_tenant=settings.tenancy.default_tenant)
        ).runtime_url
        os.environ["SCV_DATABASE_URL"] = url
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    return settings


def share_fair_share(settings: Settings) -> Settings:
    """``settings`` with the instance's fair-share directory and process count, shared.

    Agents' processes publish their latency in that directory, for the analysts' lanes to
    give way; both groups share each source's call rate, so each is told the instance's
    processes. Set once in the environment, which every worker reads its settings from.
    """
    if not os.environ.get("SCV_FAIR_SHARE__DIR"):
        os.environ["SCV_FAIR_SHARE__DIR"] = tempfile.mkdtemp(prefix="scv-fair-share-")
    os.environ.setdefault(
        "SCV_FAIR_SHARE__PROCESSES", str(settings.workers + settings.analyst_workers)
    )
    shared = settings.fair_share.model_copy(
        update={
            "dir": Path(os.environ["SCV_FAIR_SHARE__DIR"]),
            "processes": int(os.environ["SCV_FAIR_SHARE__PROCESSES"]),
        }
    )
    return settings.model_copy(update={"fair_share": shared})


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
    settings = share_fair_share(settings)
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


#: How long uvicorn's supervisor waits for a new worker to be ready (and for a worker to
#: answer its health check). uvicorn's 5 s is shorter than a worker's start on a busy
#: machine, and a rolling restart (SIGHUP) whose new worker is not ready in time is given up,
#: keeping the old worker: the restart silently does not happen.
WORKER_READY_SECONDS = 60


def serve_group(settings: Settings) -> None:
    """Serve ``settings.workers`` processes of the gateway on ``settings.port``.

    A worker sent SIGTERM drains: uvicorn stops it accepting (the listening socket is shared,
    so the other workers take the new connections), lets the requests under way finish, for
    at most ``SCV_SHUTDOWN_GRACE_SECONDS``, closes idle keep-alive connections, and then
    runs the app's shutdown. With several workers the supervisor starts a replacement for a
    worker that exited, and SIGHUP replaces them all one at a time, each new worker ready
    before the old one is told to stop: a rolling restart that loses no request
    (tests/e2e/test_rolling_restart.py).
    """
    import uvicorn

    from app.main import create_app
    from app.observability.collector import settle_for_serving

    if settings.workers == 1:
        app = create_app(settings)
        settle_for_serving()
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
        return
    # Several workers: uvicorn starts each from an import string, and each builds its own
    # app (settings come from the same environment). Their metrics meet in one directory.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scv-metrics-")
    settings = share_fair_share(settings)
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        timeout_worker_healthcheck=WORKER_READY_SECONDS,
    )
