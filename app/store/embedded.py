"""The embedded PostgreSQL server (``pgserver``) used by the demo and by the store's tests.

Production points ``SCV_DATABASE_URL`` at a real server; when it is unset the gateway runs
its own PostgreSQL under ``data_dir``. The server is shared by every process that asks for
the same directory and is stopped when the last of them exits, so ``scv demo`` leaves no
postgres behind while a second start reuses the data and is up in well under a second.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

__all__ = ["start_embedded_postgres"]


def start_embedded_postgres(data_dir: Path, *, stop_at_exit: bool = True) -> str:
    """Start (or reuse) the PostgreSQL server in ``data_dir / "pg"``; return its URL.

    The URL (``postgresql://postgres:@/postgres?host=<socket dir>``) reaches the server over
    its unix socket and is accepted as is by ``asyncpg.connect`` and ``asyncpg.create_pool``.
    A server already running on that directory, started by this process or another one, is
    reused rather than started twice.

    With ``stop_at_exit`` (the default) the server is stopped when the last process that
    started or reused it exits normally (``atexit``; SIGINT/SIGTERM handled by the caller);
    its data stays for the next start. Without it the server outlives the process.

    This blocks for as long as ``initdb`` and ``pg_ctl start`` take (about a second on a
    fresh directory, a fraction of that afterwards): call it before the event loop starts,
    or through ``asyncio.to_thread``.
    """
    pgserver = _import_pgserver()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pg"
    _forget_dead_handles(pgserver, pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop" if stop_at_exit else None)
    uri: str = server.get_uri()
    return uri


def _import_pgserver() -> Any:
    # pgserver asks platformdirs for a runtime directory when its module is imported, and
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI, cron). The fallback
    # it picks (/tmp/runtime-<uid>) is fine for pgserver's lock file, so the warning would
    # only alarm whoever runs `scv demo`; pytest also filters it, in pyproject.toml.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
        import pgserver

    return pgserver


def _forget_dead_handles(pgserver: Any, pgdata: Path) -> None:
    """Drop the pids of exited processes from pgserver's list of handles on ``pgdata``.

    pgserver stops the server only when the exiting process is the last one in that list,
    so one process that died without running its ``atexit`` hooks (SIGKILL, a crash) would
    otherwise keep every later server running forever.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    # The same inter-process lock pgserver holds while it edits the list.
    with pgserver.PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and _process_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # It exists, it just belongs to somebody else.
        return True
    return True
