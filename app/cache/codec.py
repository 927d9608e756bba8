"""Cache entries as bytes for Redis: a small JSON envelope, AES-GCM encrypted when keyed.

An entry is the canonical model's own JSON (``model_dump_json``) and when it was fetched, or
a remembered "not found". The first byte says how the rest is written, so a process with a
different (or no) key, or a value written by an older version, reads it as unreadable, never
as garbage: ``UnreadableEntry`` is a miss for the caller, and counted.

With a key, the Redis key is the AES-GCM associated data: a value copied under another key
does not decrypt either.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ValidationError

#: First byte of a stored value.
PLAIN = b"\x00"
ENCRYPTED = b"\x01"
#: AES-GCM's recommended nonce size; random per value.
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache holds for one key: a value, or the system's "no such record"."""

    #: When the value was fetched from its system (epoch seconds, the cache's clock).
    fetched_at: float
    #: The canonical model, or None for a remembered "not found".
    value: BaseModel | None
    #: The system's (PII-free) not-found message, raised again while remembered.
    not_found_message: str = ""


class UnreadableEntry(Exception):
    """A stored value that cannot be turned back into an entry; treat it as a miss."""

    def __init__(self, reason: Literal["decryption", "format"]) -> None:
        super().__init__(reason)
        self.reason = reason


class EntryCodec:
    """Entries to bytes and back; with ``key``, values are AES-GCM encrypted."""

    def __init__(self, key: bytes | None) -> None:
        self._aead = None if key is None else AESGCM(key)

    def encode(self, storage_key: str, entry: Entry) -> bytes:
        """``entry`` as stored under ``storage_key``."""
        envelope = {
            "fetched_at": entry.fetched_at,
            # The cache state is the cache's answer for one read, never part of the value.
            "value": None
            if entry.value is None
            else entry.value.model_dump_json(exclude={"cache_state"}),
            "not_found": entry.not_found_message,
        }
        return self.seal(storage_key, json.dumps(envelope, separators=(",", ":")).encode())

    def seal(self, storage_key: str, plain: bytes) -> bytes:
        """``plain`` as stored under ``storage_key``: encrypted when keyed (any value the
        tier keeps, entries and kept answers alike)."""
        if self._aead is None:
            return PLAIN + plain
        nonce = os.urandom(NONCE_BYTES)
        return ENCRYPTED + nonce + self._aead.encrypt(nonce, plain, storage_key.encode())

    def decode(self, storage_key: str, blob: bytes, model: type[BaseModel]) -> Entry:
        """The entry in ``blob``; ``UnreadableEntry`` when it cannot be read with our key."""
        plain = self.open(storage_key, blob)
        try:
            envelope = json.loads(plain)
            fetched_at = float(envelope["fetched_at"])
            raw_value = envelope["value"]
            value = None if raw_value is None else model.model_validate_json(raw_value)
            message = str(envelope["not_found"])
        except (ValueError, TypeError, KeyError, ValidationError):
            raise UnreadableEntry("format") from None
        return Entry(fetched_at=fetched_at, value=value, not_found_message=message)

    def open(self, storage_key: str, blob: bytes) -> bytes:
        """What ``seal`` sealed under ``storage_key``; ``UnreadableEntry`` if it cannot be."""
        kind, rest = blob[:1], blob[1:]
        if kind not in (PLAIN, ENCRYPTED):
            raise UnreadableEntry("format")
        if self._aead is None:
            if kind != PLAIN:
                # Encrypted by a process that has a key we were not given.
                raise UnreadableEntry("decryption")
            return rest
        if kind != ENCRYPTED or len(rest) <= NONCE_BYTES:
            raise UnreadableEntry("decryption")
        try:
            return self._aead.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], storage_key.encode())
        except InvalidTag:
            raise UnreadableEntry("decryption") from None
