"""``python -m bench.key_rotation``: what keys that rotate without a restart cost per use.

Keys and secrets are read again when their files change (``app.security.key_files``,
``app.secrets.files``), which costs a directory listing and a few ``stat`` calls where a
fixed key cost nothing. Measured here, in microseconds per operation (median of several
rounds), side by side with the fixed key:

- an interaction token minted, and one verified, with a key set of two files (a
  rotation's current and previous) against one fixed key object;
- a bearer token verified (not remembered) against one PEM key and against two PEM keys
  told apart by ``kid``;
- one check of the secret files of every source's section (``SecretFiles.check``, nothing
  changed: the check that runs every ``SCV_SECRETS__RELOAD_SECONDS``).

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from adapters.registry import SOURCES
from app.interactions.settings import InteractionSettings
from app.interactions.tokens import (
    InteractionClaims,
    InteractionTokens,
    demo_key_directory,
    interaction_keys,
)
from app.secrets.files import SecretFiles
from app.security.auth import KeyRing, TokenVerifier
from app.security.demo_keys import PUBLIC_KEY_FILE, ensure_demo_keys, mint_token
from app.security.demo_keys import demo_key_directory as bearer_key_directory
from app.security.settings import AuthSettings
from app.settings import Settings
from kernel.access import VerificationLevel
from kernel.identity import CustomerId

ROUNDS = 7
CLAIMS = InteractionClaims("i-1", "c-1", CustomerId("cust-1"), "agent-1", VerificationLevel.LOW)


def per_call_us(operation: Callable[[], object], calls: int) -> float:
    """Median over ``ROUNDS`` of the microseconds one call of ``operation`` takes."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            operation()
        rounds.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(rounds)


def interaction_tokens(directory: Path) -> dict[str, float]:
    settings = InteractionSettings()
    keys = interaction_keys(settings, demo=True, data_dir=directory)
    demo_key_directory(directory).rotate()
    rotating = InteractionTokens(keys, settings)
    fixed = InteractionTokens(keys.current().private_key, settings)  # type: ignore[arg-type]
    figures: dict[str, float] = {}
    for name, tokens in (("one fixed key", fixed), ("key set of two files", rotating)):
        token = tokens.mint(CLAIMS)
        figures[f"mint, {name}"] = per_call_us(partial(tokens.mint, CLAIMS), 300)
        figures[f"verify, {name}"] = per_call_us(partial(tokens.verify, token), 300)
    return figures


def bearer_tokens(directory: Path) -> tuple[float, float]:
    auth = AuthSettings()
    one = ensure_demo_keys(directory)
    single = TokenVerifier(auth, KeyRing(static_key=one.public_pem))
    bearer_key_directory(directory).rotate()
    newest = ensure_demo_keys(directory)
    pair = TokenVerifier(auth, KeyRing(static_key=(directory / PUBLIC_KEY_FILE).read_text()))
    token_one = mint_token(one, auth, subject="a", role="agent")
    token_new = mint_token(newest, auth, subject="a", role="agent")

    async def checks(verifier: TokenVerifier, token: str, calls: int) -> float:
        # The private check: the verified-token memory would hide the signature's cost.
        await verifier._check(token)
        rounds = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(calls):
                await verifier._check(token)
            rounds.append((time.perf_counter() - started) / calls * 1e6)
        return statistics.median(rounds)

    async def both() -> tuple[float, float]:
        return await checks(single, token_one, 200), await checks(pair, token_new, 200)

    return asyncio.run(both())


def secret_files_check(directory: Path) -> tuple[int, float]:
    settings = Settings()
    files = SecretFiles(directory)
    watched = 0
    for spec in SOURCES:
        section = settings.source(spec.source)
        files.watch((spec.name,), section, lambda _: None)
        (directory / files.variable((spec.name,), "api_key")).write_text("k")
        watched += 1
    return watched, per_call_us(files.check, 2000)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        interaction = interaction_tokens(root / "interaction")
        one, two = bearer_tokens(root / "bearer")
        (root / "secrets").mkdir()
        sections, check = secret_files_check(root / "secrets")
    print("key rotation: microseconds per operation (median of 7 rounds)")
    for name, figure in interaction.items():
        print(f"  interaction token {name + ':':37} {figure:8.1f}")
    print(f"  bearer token signature check, one PEM key:            {one:8.1f}")
    print(f"  bearer token signature check, two PEM keys by kid:    {two:8.1f}")
    print(f"  secret files check, {sections} source sections:            {check:8.1f}")


if __name__ == "__main__":
    main()
