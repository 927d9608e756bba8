"""Persisted queries: Apollo's automatic persisted queries (APQ), and an allow-list mode.

APQ (``SCV_PERSISTED_QUERIES__MODE=apq``, the default): a client sends
``extensions.persistedQuery = {version: 1, sha256Hash}``. The hash alone runs the document
registered under it, or answers ``PersistedQueryNotFound`` (code
``PERSISTED_QUERY_NOT_FOUND``), upon which Apollo clients send the hash with the query; the
query's sha256 must then match the hash, and it runs and is registered (only once it ran:
a document that does not parse or validate is never kept). Documents are kept in this
process (least recently used go) or, with ``SCV_CACHE__URL``, in Redis for every process.
Losing one costs the client a round trip, never an answer, so neither needs the database.

Allow list (``allow_list``): only the manifest's documents run, by hash or by full text;
anything else is ``PERSISTED_QUERY_NOT_ALLOWED`` and nothing executes, and nothing can be
registered. For production desktops, whose operations are known at build time.

Off (``off``): full queries only; a persisted query is ``PERSISTED_QUERY_NOT_SUPPORTED``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.cache.local import LocalTier
from app.limits.settings import PersistedQuerySettings
from kernel.client_errors import GatewayError

logger = logging.getLogger(__name__)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
KEY_PREFIX = "scv:apq:"
APQ_VERSION = 1


def sha256_of(document: str) -> str:
    """The APQ hash of ``document``: sha256 of its UTF-8 text, lowercase hex."""
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueryError(GatewayError):
    """A persisted query that cannot run; the message and code follow Apollo's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def not_found() -> PersistedQueryError:
    return PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")


def not_allowed() -> PersistedQueryError:
    return PersistedQueryError(
        "PERSISTED_QUERY_NOT_ALLOWED", "only registered documents run on this gateway"
    )


class DocumentStore(Protocol):
    """Where APQ documents are registered, by hash."""

    async def get(self, digest: str) -> str | None:
        """The document registered under ``digest``, if it is still kept."""
        ...

    async def put(self, digest: str, document: str) -> None:
        """Register ``document`` under ``digest``."""
        ...


class MemoryDocuments:
    """APQ documents in this process: bounded, least recently used go first."""

    def __init__(self, max_entries: int, ttl_seconds: float) -> None:
        self._documents = LocalTier(max_entries, ttl_seconds)

    async def get(self, digest: str) -> str | None:
        found = self._documents.get(digest)
        return found if isinstance(found, str) else None

    async def put(self, digest: str, document: str) -> None:
        self._documents.put(digest, document)


class RedisDocuments:
    """APQ documents in Redis, for every process; this process's own when Redis is down.

    Redis failing costs a client one more round trip (it sends the full query), so it is
    logged and answered from the local store, never raised. The client is the app's: it
    closes it.
    """

    def __init__(self, client: redis.Redis, settings: PersistedQuerySettings) -> None:
        self._client = client
        self._ttl = settings.ttl_seconds
        self._local = MemoryDocuments(settings.max_entries, settings.ttl_seconds)

    async def get(self, digest: str) -> str | None:
        try:
            found = await self._client.get(f"{KEY_PREFIX}{digest}")
        except (RedisError, OSError) as exc:
            _redis_failed(exc)
            return await self._local.get(digest)
        if isinstance(found, bytes):
            return found.decode()
        return found if isinstance(found, str) else None

    async def put(self, digest: str, document: str) -> None:
        await self._local.put(digest, document)
        try:
            await self._client.set(f"{KEY_PREFIX}{digest}", document, ex=self._ttl)
        except (RedisError, OSError) as exc:
            _redis_failed(exc)


def _redis_failed(exc: BaseException) -> None:
    logger.warning(
        "persisted queries: Redis did not answer; this process's documents are used",
        extra={"error_type": type(exc).__name__},
    )


def load_manifest(path: Path) -> dict[str, str]:
    """The allow list at ``path``: hash -> document.

    A directory: every ``*.graphql`` file in it, hashed as it is. A JSON file: Apollo's
    persisted query manifest (``{"operations": [{"id", "body", ...}]}``) or an object of
    hash -> document. A hash that does not match its document is refused, so that a
    manifest cannot let one document run under another's name.
    """
    if path.is_dir():
        documents = {
            sha256_of(text): text
            for text in (file.read_text() for file in sorted(path.glob("*.graphql")))
        }
    else:
        documents = _documents_of(json.loads(path.read_text()))
    for digest, document in documents.items():
        if sha256_of(document) != digest:
            raise ValueError(f"persisted query manifest: {digest} is not its document's sha256")
    if not documents:
        raise ValueError(f"persisted query manifest {path} holds no documents")
    return documents


def _documents_of(manifest: Any) -> dict[str, str]:
    if isinstance(manifest, dict) and isinstance(manifest.get("operations"), list):
        return {
            str(operation["id"]).lower(): str(operation["body"])
            for operation in manifest["operations"]
            if isinstance(operation, dict)
        }
    if isinstance(manifest, dict):
        return {str(digest).lower(): str(document) for digest, document in manifest.items()}
    raise ValueError("persisted query manifest: neither Apollo's format nor hash -> document")


@dataclass(frozen=True, slots=True)
class Resolved:
    """The document to run, and the hash to register it under once it ran (APQ)."""

    query: str | None
    register_as: str | None = None


class PersistedQueries:
    """Turns a request's ``query`` and ``extensions`` into the document to run, or refuses."""

    def __init__(
        self,
        settings: PersistedQuerySettings,
        documents: DocumentStore,
        allow_list: Mapping[str, str] | None = None,
    ) -> None:
        self._mode = settings.mode
        self._documents = documents
        self._allow_list = dict(allow_list or {})

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> Resolved:
        """The document to run; raises ``PersistedQueryError`` for one that may not run."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            if (
                self._mode == "allow_list"
                and query is not None
                and sha256_of(query) not in self._allow_list
            ):
                raise not_allowed()
            return Resolved(query)
        if self._mode == "off":
            raise PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
        digest = _digest_of(persisted)
        if query is not None and sha256_of(query) != digest:
            raise PersistedQueryError("BAD_USER_INPUT", "provided sha does not match query")
        if self._mode == "allow_list":
            document = self._allow_list.get(digest)
            if document is None:
                raise not_allowed()
            return Resolved(document)
        if query is not None:
            return Resolved(query, register_as=digest)
        document = await self._documents.get(digest)
        if document is None:
            raise not_found()
        return Resolved(document)

    async def register(self, digest: str, document: str) -> None:
        """Keep ``document`` under ``digest`` (after it ran: it parses and validates)."""
        await self._documents.put(digest, document)


def _digest_of(persisted: object) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != APQ_VERSION:
        raise PersistedQueryError("BAD_USER_INPUT", "Unsupported persisted query version")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest.lower()):
        raise PersistedQueryError("BAD_USER_INPUT", "sha256Hash must be 64 hex digits")
    return digest.lower()


def persisted_queries_for(
    settings: PersistedQuerySettings, redis_client: redis.Redis | None
) -> PersistedQueries:
    """The persisted queries ``settings`` describe; APQ documents in Redis when one is given."""
    documents: DocumentStore = (
        RedisDocuments(redis_client, settings)
        if redis_client is not None
        else MemoryDocuments(settings.max_entries, settings.ttl_seconds)
    )
    manifest = settings.manifest if settings.mode == "allow_list" else None
    return PersistedQueries(settings, documents, load_manifest(manifest) if manifest else None)
