"""The ``scv`` command line: every subcommand explains itself and fails clearly."""

from __future__ import annotations

import socket
from pathlib import Path

import jwt
import pytest

from app.cli.commands import main
from app.security.demo_keys import ensure_demo_keys

SUBCOMMANDS = [
    "demo",
    "serve",
    "sandbox",
    "sync",
    "token",
    "ivr-call",
    "schema",
    "status",
    "readiness",
    "migrate",
]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: scv {command}" in capsys.readouterr().out


def test_the_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out


def test_token_mints_a_token_for_the_role_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    ensure_demo_keys(tmp_path)  # as the gateway does when it starts in demo mode
    main(["token", "--role", "supervisor", "--sub", "sup-9", "--ttl", "60"])
    token = capsys.readouterr().out.strip()
    public = ensure_demo_keys(tmp_path).public_pem
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="scv-gateway")
    assert (claims["sub"], claims["role"]) == ("sup-9", "supervisor")
    assert claims["exp"] - claims["iat"] == 60


def test_token_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "root"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_invalid_settings_stop_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_PORT", "not-a-port")
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "agent"])
    assert "port" in str(exited.value.code)


def test_schema_check_fails_when_the_file_is_stale(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    with pytest.raises(SystemExit) as exited:
        main(["schema", "--output", str(stale), "--check"])
    assert "differs from the code" in str(exited.value.code)


def test_schema_writes_a_file_that_then_checks_clean(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    main(["schema", "--output", str(target)])
    main(["schema", "--output", str(target), "--check"])
    assert "type Customer" in target.read_text()


def test_serve_without_a_token_key_stops_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SCV_DEMO", "SCV_AUTH__JWKS_URL", "SCV_AUTH__PUBLIC_KEY_PEM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exited:
        main(["serve"])
    assert "SCV_AUTH__JWKS_URL" in str(exited.value.code)


@pytest.mark.parametrize("ttl", ["-5", "0", "soon"])
def test_a_token_lifetime_that_is_no_positive_number_is_refused(
    ttl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "agent", "--sub", "agent-1", "--ttl", ttl])

    assert exited.value.code == 2
    assert "--ttl" in capsys.readouterr().err


def test_token_run_from_another_folder_refuses_and_creates_no_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SCV_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "agent"])
    message = str(exited.value.code)
    assert f"no demo keys in {tmp_path.resolve() / '.scv'}" in message
    assert "SCV_DATA_DIR" in message
    assert not (tmp_path / ".scv").exists()


def test_token_from_another_folder_uses_the_gateways_keys_through_scv_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway_keys = ensure_demo_keys(tmp_path / "project" / ".scv")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path / "project" / ".scv"))
    main(["token", "--role", "agent"])
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(
        token, gateway_keys.public_pem, algorithms=["RS256"], audience="scv-gateway"
    )
    assert claims["role"] == "agent"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["ivr-call", "--customer", "ada", "--auth-score", "1.5"], "--auth-score"),
        (["ivr-call", "--customer", "ada", "--auth-score", "nan"], "--auth-score"),
        (["ivr-call", "--customer", "ada", "--gateway", "localhost:8000"], "--gateway"),
        (["ivr-call", "--customer", "", "--ivr", "http://127.0.0.1:8100/ivr"], "--customer"),
        (["token", "--role", "agent", "--sub", ""], "--sub"),
        (["token", "--role", "agent", "--sub", "agent 1"], "--sub"),
        (["status", "--timeout", "0"], "--timeout"),
        (["status", "--timeout", "-1"], "--timeout"),
        (["status", "--url", "ftp://gateway"], "--url"),
        (["demo", "--sandbox-port", "70000"], "--sandbox-port"),
        (["demo", "--sandbox-port", "0"], "--sandbox-port"),
        (["demo", "--customers", "0"], "--customers"),
    ],
)
def test_nonsensical_arguments_are_refused_before_anything_runs(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_serve_help_names_the_settings_and_where_they_are_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for setting in ("SCV_HOST", "SCV_PORT", "SCV_WORKERS", "SCV_DATABASE_URL", "SCV_AUTH__*"):
        assert setting in out
    assert "docs/configuration.md" in out


def test_demo_with_its_sandbox_port_taken_stops_in_one_line_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("SCV_SANDBOX_PORT", str(port))
        with pytest.raises(SystemExit) as exited:
            main(["demo"])
    message = str(exited.value.code)
    assert message == (
        f"port {port} on 127.0.0.1 is in use: choose another with "
        "SCV_SANDBOX_PORT (make run SANDBOX_PORT=)"
    )
    assert list(tmp_path.iterdir()) == []  # no PostgreSQL started, no keys made


def test_demo_with_the_gateway_port_taken_stops_before_starting_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("SCV_PORT", str(port))
        with pytest.raises(SystemExit) as exited:
            main(["demo", "--sandbox-port", str(_free_port())])
    assert str(exited.value.code).endswith("choose another with SCV_PORT")
    assert list(tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_token_acts_for_the_default_tenant_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCV_TENANCY__TENANTS", '["acme", "globex"]')
    public = ensure_demo_keys(tmp_path).public_pem
    main(["token", "--role", "agent"])
    main(["token", "--role", "agent", "--tenant", "globex"])
    first, second = capsys.readouterr().out.split()
    decoded = [
        jwt.decode(token, public, algorithms=["RS256"], audience="scv-gateway")
        for token in (first, second)
    ]
    assert [claims["tenants"] for claims in decoded] == [["acme"], ["globex"]]


def test_token_refuses_a_tenant_the_gateway_does_not_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    ensure_demo_keys(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "agent", "--tenant", "globex"])
    assert "serves no tenant 'globex'" in str(exited.value.code)
