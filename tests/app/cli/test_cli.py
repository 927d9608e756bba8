"""The ``scv`` command line: every subcommand explains itself and fails clearly."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from app.cli.commands import main
from app.security.demo_keys import ensure_demo_keys

SUBCOMMANDS = [
    "demo", "serve", "sandbox", "sync", "token", "ivr-call", "schema", "status", "migrate"
]  # fmt: skip


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
