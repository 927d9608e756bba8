"""Bearer tokens: who is asking, checked before anything executes.

Tokens are JWTs signed with an asymmetric key (RS*/ES*/PS*/EdDSA): the key comes from a PEM
public key in settings or from the issuer's JWKS. ``iss``, ``aud``, ``exp`` (required),
``nbf`` and the header ``typ`` are checked with a small leeway; the role and the tenants the
token may act for come from the claims named in settings. PyJWT does the cryptography and
claim checks; this module only chooses the key and turns every failure into one
``AuthenticationError`` whose message is safe to return.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import jwt

from app.security.key_files import key_id, public_keys_of_pem
from app.security.settings import AuthSettings
from kernel.access import Principal
from kernel.tenancy import TenantId, tenant_ids

logger = logging.getLogger(__name__)

#: Roles the gateway knows; what each may see is decided in the resolvers.
ROLES = frozenset({"agent", "supervisor", "analyst", "ivr", "operator"})

#: Header ``typ`` values accepted for bearer tokens. Handoff and interaction tokens carry
#: their own ``typ``, so none of them can stand in for an access token.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "jwt"})

_ASYMMETRIC_PREFIXES = ("RS", "ES", "PS", "EdDSA")


class AuthenticationError(Exception):
    """The request carries no usable bearer token; the message is safe to show."""


def check_algorithms(algorithms: tuple[str, ...]) -> None:
    """Refuse ``none`` and HMAC: a public key must never double as a shared secret."""
    for algorithm in algorithms:
        if not algorithm.startswith(_ASYMMETRIC_PREFIXES):
            raise ValueError(f"algorithm {algorithm!r} is not allowed for bearer tokens")


JwksFetcher = Callable[[], Awaitable[Mapping[str, Any]]]


def published_jwks(client: httpx.AsyncClient, url: str) -> JwksFetcher:
    """A ``KeyRing``'s fetch of the JWKS an issuer publishes at ``url`` (an HTTP error
    raises: the ring keeps the keys it holds)."""

    async def fetch() -> Mapping[str, Any]:
        response = await client.get(url)
        response.raise_for_status()
        document: Mapping[str, Any] = response.json()
        return document

    return fetch


class KeyRing:
    """The verification keys: static PEM keys, or a JWKS refetched on an unknown ``kid``.

    One PEM key verifies every token, whatever its ``kid`` (as before keys rotated);
    several (a file holding one PEM block per key still valid, during a rotation) are told
    apart by ``kid``, each key's RFC 7638 thumbprint (``app.security.key_files.key_id``).
    A JWKS (the issuer's URL, a file, the demo's keys) is fetched again for a ``kid`` it
    does not hold: a key added to it verifies with no restart, a key removed stops.
    Refetches are limited to one per ``refetch_interval`` so that tokens with made-up
    ``kid`` values cannot turn the gateway into a load generator against the issuer (a
    local file is read again only when it changed, so its interval may be 0). So that such
    tokens cannot keep it from ever learning a new key either, a JWKS older than
    ``max_age`` is fetched again at the next lookup, whatever its ``kid``: an issuer that
    publishes its next key ``max_age`` before signing with it is never refused (and a key
    it withdraws stops verifying within ``max_age``). A failed refresh of that kind keeps
    the keys it has.
    """

    def __init__(
        self,
        *,
        static_key: str | None = None,
        fetch_jwks: JwksFetcher | None = None,
        refetch_interval: float = 60.0,
        max_age: float | None = None,
    ) -> None:
        if (static_key is None) == (fetch_jwks is None):
            raise ValueError("configure exactly one of a PEM public key or a JWKS URL")
        self._static_key = static_key
        self._static_by_kid: dict[str, Any] = {}
        blocks = public_keys_of_pem(static_key) if static_key is not None else []
        if len(blocks) > 1:
            self._static_by_kid = {key_id(key): key for key in blocks}
        # One key: held parsed, so that no verification parses the PEM again (PyJWT would,
        # on every call: some 35 µs of CPU each).
        self._static: Any = blocks[0] if len(blocks) == 1 else static_key
        self._fetch_jwks = fetch_jwks
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._jwks: dict[str, jwt.PyJWK] = {}
        self._last_fetch = float("-inf")
        self._refresh_lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> Any:
        """The key that verifies a token with this ``kid``."""
        if self._static_by_kid:
            found_static = self._static_by_kid.get(kid or "")
            if found_static is None:
                raise AuthenticationError("token signed by an unknown key")
            return found_static
        if self._static_key is not None:
            return self._static
        if kid is None:
            raise AuthenticationError("token has no key id")
        if self._max_age is not None and time.monotonic() - self._last_fetch >= self._max_age:
            await self._refresh_if_stale(self._max_age)
        if kid not in self._jwks:
            await self._refresh_if_due()
        found = self._jwks.get(kid)
        if found is None:
            raise AuthenticationError("token signed by an unknown key")
        return found.key

    async def _refresh_if_due(self) -> None:
        """Refetch the JWKS unless it was fetched within the interval.

        Requests that arrive while a fetch is under way wait for it rather than finding the
        interval not yet over and refusing their token: the first handoffs or tokens after
        a start (or a key rotation) come in bursts, and every one of them is valid.
        """
        async with self._refresh_lock:
            if time.monotonic() - self._last_fetch >= self._refetch_interval:
                await self._refresh()

    async def _refresh_if_stale(self, max_age: float) -> None:
        """Fetch the JWKS again when it is older than ``max_age``; on failure keep it."""
        async with self._refresh_lock:
            if time.monotonic() - self._last_fetch < max_age:
                return  # another request refreshed it meanwhile
            try:
                await self._refresh()
            except AuthenticationError:
                # The keys held still verify; the next unknown kid or max_age tries again.
                logger.warning("could not refresh the signing keys; keeping those held")

    async def _refresh(self) -> None:
        assert self._fetch_jwks is not None
        self._last_fetch = time.monotonic()
        try:
            document = await self._fetch_jwks()
            keys = jwt.PyJWKSet.from_dict(dict(document)).keys
        except Exception as exc:  # the issuer being down must read as "cannot verify"
            raise AuthenticationError("signing keys are unavailable") from exc
        self._jwks = {key.key_id: key for key in keys if key.key_id}


#: Tokens remembered as verified, and for how long at most: the desktop sends the same
#: bearer token with every request of a shift, and checking its RSA signature each time was
#: a measurable share of the gateway's CPU per query (bench/). A key withdrawn from the
#: issuer's JWKS stops a remembered token within this time; ``exp`` is always honoured.
VERIFIED_TOKENS = 1024
VERIFIED_FOR_SECONDS = 60.0


class TokenVerifier:
    """Checks a bearer token and says who is asking."""

    def __init__(
        self,
        settings: AuthSettings,
        keys: KeyRing,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        check_algorithms(settings.algorithms)
        self._settings = settings
        self._keys = keys
        self._clock = clock
        # token -> (principal, until when it may be trusted without a check, its exp), epoch s
        self._verified: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; ``AuthenticationError`` for anything else."""
        principal, _ = await self.verify_expiring(token)
        return principal

    async def verify_expiring(self, token: str) -> tuple[Principal, float]:
        """The principal of a valid token and when the token expires (``exp``, epoch
        seconds): a subscription, which outlives its request, ends then."""
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, until, expires_at = remembered
            if now < until:
                self._verified.move_to_end(token)
                return principal, expires_at
            del self._verified[token]
        principal, expires_at = await self._check(token)
        self._verified[token] = (principal, min(expires_at, now + VERIFIED_FOR_SECONDS), expires_at)
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal, expires_at

    async def _check(self, token: str) -> tuple[Principal, float]:
        """The principal of ``token`` and its ``exp``, from the signature and claims."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthenticationError("malformed token") from exc
        if str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPES:
            raise AuthenticationError("not an access token")
        if header.get("alg") not in self._settings.algorithms:
            raise AuthenticationError("token algorithm not allowed")
        key = await self._keys.key_for(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self._settings.algorithms),
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise AuthenticationError("invalid token") from exc
        role = claims.get(self._settings.role_claim)
        # A list or an object is no role: compared as it is, it would not even hash.
        if not isinstance(role, str) or role not in ROLES:
            raise AuthenticationError("token carries no known role")
        # OAuth 2.0 puts scopes in one space-separated string (RFC 8693 section 4.2).
        scope = claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        principal = Principal(
            subject=str(claims["sub"]),
            role=str(role),
            scopes=scopes,
            tenants=claimed_tenants(claims.get(self._settings.tenants_claim)),
        )
        return principal, float(claims["exp"])


def claimed_tenants(claim: object) -> frozenset[TenantId]:
    """The tenants of a tenants claim: a list of names, or one string of names separated by
    spaces (as OAuth writes scopes); anything else grants none."""
    if isinstance(claim, str):
        return tenant_ids(claim.split())
    if isinstance(claim, list):
        return tenant_ids(name for name in claim if isinstance(name, str))
    return frozenset()


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not authorization:
        raise AuthenticationError("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("authorization must be 'Bearer <token>'")
    return token.strip()
