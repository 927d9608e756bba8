"""The sandbox's command line: flags, validation, delegation to ``run_sandbox``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox import cli
from sandbox.entry import SandboxServers


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


def test_defaults_match_the_readme() -> None:
    args = parse()

    assert (args.host, args.port, args.seed, args.customers) == ("127.0.0.1", 8100, 42, 2000)
    assert cli.fault_systems_from(args.fault_system) == ("billing", "crm", "support", "ivr")
    assert (args.error_rate, args.error_status, args.rate_limit_retry_after) == (0.0, 500, None)
    assert (args.hang, args.malformed_json) == (False, False)


def test_fault_system_can_be_repeated() -> None:
    args = parse("--fault-system", "billing", "--fault-system", "ivr")

    assert cli.fault_systems_from(args.fault_system) == ("billing", "ivr")


def test_fault_system_all_means_every_system() -> None:
    args = parse("--fault-system", "crm", "--fault-system", "all")

    assert cli.fault_systems_from(args.fault_system) == ("billing", "crm", "support", "ivr")


@pytest.mark.parametrize(
    "argv",
    [
        ["--error-rate", "1.5"],
        ["--error-status", "404"],
        ["--latency-ms", "-1"],
        ["--customers", "many"],
        ["--port", "70000"],
        ["--fault-system", "payroll"],
    ],
)
def test_bad_values_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)

    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_every_flag_has_help() -> None:
    parser = cli.build_parser()

    options = [action for action in parser._actions if action.option_strings]
    assert options
    assert all(action.help for action in options)


def test_main_from_args_hands_every_flag_to_run_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli, "run_sandbox", lambda **kwargs: calls.append(kwargs))

    cli.main_from_args(
        parse(
            "--port", "9000", "--seed", "7", "--customers", "10", "--latency-ms", "5",
            "--jitter-ms", "2", "--fault-system", "crm", "--error-rate", "0.5",
            "--error-status", "503", "--rate-limit-retry-after", "3", "--hang",
            "--malformed-json", "--webhook-url", "http://127.0.0.1:8000/webhooks",
            "--webhook-secret", "crm=s3cret", "--database-server", "postgresql://pg/admin",
            "--files-dir", "files", "--environment-file", "tenants.env",
        )
    )  # fmt: skip

    assert calls == [
        {
            "host": "127.0.0.1",
            "port": 9000,
            "seed": 7,
            "customers": 10,
            "latency_ms": 5.0,
            "jitter_ms": 2.0,
            "error_rate": 0.5,
            "error_status": 503,
            "rate_limit_retry_after": 3,
            "hang": True,
            "malformed_json": True,
            "fault_systems": ("crm",),
            "log_level": "warning",
            "webhook_url": "http://127.0.0.1:8000/webhooks",
            "webhook_secrets": {"crm": "s3cret"},
            "servers": SandboxServers(
                database_url="postgresql://pg/admin", files_dir=Path("files")
            ),
            "environment_file": Path("tenants.env"),
        }
    ]


def test_python_dash_m_sandbox_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0
    assert "--fault-system" in result.stdout
