"""Signing keys kept as files, named by ``kid``, replaced without a restart.

The gateway signs two kinds of tokens itself: the demo issuer's bearer tokens
(``app.security.demo_keys``) and interaction tokens (``app.interactions.tokens``). Each kind
has a ``KeyDirectory`` (``<stem>.pem``, then ``<stem>.1.pem``, ``<stem>.2.pem``, ... as it is
rotated) or a list of configured files, read as a ``KeySet``: the newest key signs, every key
still there verifies, and each token carries its key's ``kid`` (the key's RFC 7638 JWK
thumbprint, so the same key has the same id in every process and in any JWKS). A set is read
again whenever its files change (their names, sizes and times are compared on each use: a
few ``stat`` calls), so a key added by ``scv keys rotate`` signs the next token minted in
every process, and a token signed with it verifies in a process that has not minted one yet.

The thumbprint is computed here (six lines over PyJWT's JWK export) rather than with a JOSE
library: PyJWT already does every signature, and none of them would be used for more.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

#: How long a key set's files go unlooked-at while it only verifies (``KeySet.find``).
RECHECK_SECONDS = 1.0

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

#: The members of a JWK that its RFC 7638 thumbprint covers, by key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


def public_jwk(public_key: PublicKey) -> dict[str, Any]:
    """The public JWK of ``public_key`` (RSA or EC), without ``kid`` or ``alg``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        exported = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        exported = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    return dict(exported)


def key_id(public_key: PublicKey) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of ``public_key``: its ``kid``."""
    jwk = public_jwk(public_key)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def public_keys_of_pem(text: str) -> list[PublicKey]:
    """Every PEM public key in ``text`` (a file may hold several: one per key still valid)."""
    keys: list[PublicKey] = []
    for block in _PEM_BLOCK.findall(text):
        key = serialization.load_pem_public_key(block.encode())
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise ValueError("only RSA and EC public keys are supported")
        keys.append(key)
    return keys


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One private key and its ``kid``."""

    kid: str
    private_key: PrivateKey

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_private_key(path: Path) -> SigningKey:
    """The PEM private key (RSA or EC) in ``path``, with its ``kid``."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not a PEM RSA or EC private key")
    return SigningKey(kid=key_id(key.public_key()), private_key=key)


class SigningKeys(Protocol):
    """Keys that sign (the newest) and verify (any, by ``kid``)."""

    def current(self) -> SigningKey:
        """The key that signs now."""
        ...

    def find(self, kid: str | None) -> SigningKey | None:
        """The key with this ``kid``, if it still verifies."""
        ...


class FixedKeys:
    """``SigningKeys`` that never change (tests, and keys handed in as objects)."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        self._keys = list(keys)

    def current(self) -> SigningKey:
        return self._keys[-1]

    def find(self, kid: str | None) -> SigningKey | None:
        return next((key for key in self._keys if key.kid == kid), None)


class KeySet:
    """The keys in some files, oldest first: the last signs, all verify; re-read on change.

    ``paths`` lists the files as they are now (a directory's listing, or configured paths).
    """

    def __init__(
        self,
        paths: Callable[[], Sequence[Path]],
        *,
        check: Callable[[SigningKey], None] | None = None,
    ) -> None:
        self._paths = paths
        self._check = check
        self._seen: tuple[tuple[str, int, int], ...] | None = None
        self._keys: list[SigningKey] = []
        self._checked_at = float("-inf")
        # Reloads may come from the event loop and from worker threads at once.
        self._lock = threading.Lock()

    def current(self) -> SigningKey:
        """The key that signs now: the newest."""
        keys = self._reloaded()
        if not keys:
            raise ValueError("no signing key")
        return keys[-1]

    def find(self, kid: str | None) -> SigningKey | None:
        """The key with this ``kid``, if it is still in the set.

        Verifying is every request's, signing a claim's: the files are looked at again
        (a listing and a ``stat`` each) only for a ``kid`` not known yet (a key another
        process has just added) or once ``RECHECK_SECONDS`` have passed (a key removed
        stops verifying within that time), not on every call.
        """
        fresh = time.monotonic() - self._checked_at < RECHECK_SECONDS
        for key in self._keys if fresh else self._reloaded():
            if key.kid == kid:
                return key
        if fresh:
            return next((key for key in self._reloaded() if key.kid == kid), None)
        return None

    def keys(self) -> list[SigningKey]:
        """Every key of the set, oldest first."""
        return list(self._reloaded())

    def jwks(self, algorithm: str) -> dict[str, Any]:
        """The set's public keys as a JWKS document (what a ``KeyRing`` fetches)."""
        return {
            "keys": [
                {**public_jwk(key.public_key), "kid": key.kid, "alg": algorithm, "use": "sig"}
                for key in self._reloaded()
            ]
        }

    def _reloaded(self) -> list[SigningKey]:
        with self._lock:
            self._checked_at = time.monotonic()
            paths = list(self._paths())
            seen = tuple(_stamp(path) for path in paths)
            if seen != self._seen:
                keys = [load_private_key(path) for path in paths]
                if self._check is not None:
                    for key in keys:
                        self._check(key)
                self._keys, self._seen = keys, seen
            return self._keys


def _stamp(path: Path) -> tuple[str, int, int]:
    status = path.stat()
    return str(path), status.st_mtime_ns, status.st_size


class KeyDirectory:
    """One kind of key under a directory: ``<stem>.pem`` first, then ``<stem>.<n>.pem`` for
    each rotation (``n`` counting up). Keys are written owner-only, before their content."""

    def __init__(self, directory: Path, stem: str, generate: Callable[[], PrivateKey]) -> None:
        self.directory = directory
        self._stem = stem
        self._generate = generate

    def paths(self) -> list[Path]:
        """The key files, oldest first."""
        found: list[tuple[int, Path]] = []
        if not self.directory.is_dir():
            return []
        pattern = re.compile(rf"^{re.escape(self._stem)}(?:\.(\d+))?\.pem$")
        for entry in self.directory.iterdir():
            matched = pattern.match(entry.name)
            if matched is not None:
                found.append((int(matched.group(1) or 0), entry))
        return [path for _, path in sorted(found)]

    def key_set(self, check: Callable[[SigningKey], None] | None = None) -> KeySet:
        """The directory's keys as a ``KeySet``."""
        return KeySet(self.paths, check=check)

    def ensure(self) -> None:
        """One key, generated now if the directory holds none."""
        if not self.paths():
            self._write(self.directory / f"{self._stem}.pem")

    def rotate(self, keep: int = 2) -> list[Path]:
        """A new newest key; only the ``keep`` newest stay (the rest: removed, returned).

        ``keep`` 2 keeps the key that signed until now, so that the tokens it signed verify
        until they expire; rotate again only once they have.
        """
        if keep < 1:
            raise ValueError("keep at least the new key")
        paths = self.paths()
        generation = len(paths) and int(self._generation(paths[-1]))
        self._write(self.directory / f"{self._stem}.{generation + 1}.pem")
        paths = self.paths()
        retired = paths[: max(0, len(paths) - keep)]
        for path in retired:
            path.unlink()
        return retired

    def rollback(self) -> Path:
        """Remove the newest key, so the one before signs again (a rotation undone); its
        tokens stop verifying."""
        paths = self.paths()
        if len(paths) < 2:
            raise ValueError(
                f"{self.directory} holds one {self._stem} key: nothing to roll back to"
            )
        paths[-1].unlink()
        return paths[-1]

    def _generation(self, path: Path) -> str:
        middle = path.name.removeprefix(self._stem).removesuffix(".pem")
        return middle.lstrip(".") or "0"

    def _write(self, path: Path) -> None:
        key = SigningKey(kid="", private_key=self._generate())
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only before the key is written: it signs tokens the gateway trusts. Written
        # to a temporary name and renamed, so that no process reads half a key.
        partial = path.with_name(f".{path.name}.partial")
        partial.touch(mode=0o600)
        partial.write_bytes(key.private_pem())
        partial.replace(path)


class JwksFile:
    """A JWKS document in a file, read again only when the file changed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[str, int, int] | None = None
        self._document: dict[str, Any] = {}

    def document(self) -> dict[str, Any]:
        """The file's JWKS as it is now."""
        seen = _stamp(self._path)
        if seen != self._seen:
            document = json.loads(self._path.read_text())
            if not isinstance(document, dict):
                raise ValueError(f"{self._path} is not a JWKS document")
            self._document, self._seen = document, seen
        return self._document
