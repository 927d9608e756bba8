"""``scv ivr-call`` and ``scv token`` for every role: the demo's way to play a call."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.cli.commands import main
from app.cli.ivr_call import IvrCall, IvrCallError, claim_instructions, play_ivr_call
from app.security.auth import KeyRing, TokenVerifier
from app.security.demo_keys import ensure_demo_keys
from app.security.settings import AuthSettings


@pytest.mark.parametrize("role", ["agent", "supervisor", "analyst", "ivr"])
async def test_token_of_each_role_is_accepted_by_the_gateway(
    role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    ensure_demo_keys(tmp_path)  # as the gateway does when it starts in demo mode
    main(["token", "--role", role, "--sub", f"{role}-7"])
    token = capsys.readouterr().out.strip()
    verifier = TokenVerifier(
        AuthSettings(), KeyRing(static_key=ensure_demo_keys(tmp_path).public_pem)
    )

    principal = await verifier.verify(token)

    assert (principal.subject, principal.role) == (f"{role}-7", role)


def test_ivr_call_needs_a_customer_or_a_phone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ivr-call"])

    assert exited.value.code == 2
    assert "--customer" in capsys.readouterr().err


def test_ivr_call_says_clearly_when_the_sandbox_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    ensure_demo_keys(tmp_path)

    with pytest.raises(SystemExit) as exited:
        main(["ivr-call", "--customer", "ada", "--ivr", "http://127.0.0.1:9/ivr"])

    message = str(exited.value.code)
    assert message.startswith("ivr-call failed: cannot reach http://127.0.0.1:9/ivr/_sandbox/calls")
    assert "\n" not in message


def test_ivr_call_without_the_gateways_keys_refuses_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path / "elsewhere"))

    with pytest.raises(SystemExit) as exited:
        main(["ivr-call", "--customer", "ada"])

    assert "no demo keys in" in str(exited.value.code)
    assert not (tmp_path / "elsewhere").exists()


async def test_refused_handoff_is_reported_with_the_gateway_answer() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/_sandbox/calls"):
            return httpx.Response(201, json={"contact_id": "c-1", "handoff": "jws"})
        return httpx.Response(409, json={"errors": [{"extensions": {"code": "HANDOFF_REPLAYED"}}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(IvrCallError, match="HANDOFF_REPLAYED"):
            await play_ivr_call(
                http,
                ivr_url="http://sandbox/ivr",
                gateway_url="http://gateway",
                ivr_token="t",
                call={"customer": "ada"},
            )


def test_instructions_name_the_contact_and_how_to_claim_it() -> None:
    call = IvrCall(contact_id="c-42", interaction={"verification": {"level": "MEDIUM"}})

    text = claim_instructions(call, "http://127.0.0.1:8000")

    assert "c-42" in text
    assert "MEDIUM" in text
    assert "curl -s http://127.0.0.1:8000/graphql" in text
    assert "claimInteraction" in text
