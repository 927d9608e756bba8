"""Persisted queries: APQ register, hit and miss; the allow list; the manifest's formats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from app.limits.persisted_queries import (
    MemoryDocuments,
    PersistedQueries,
    PersistedQueryError,
    RedisDocuments,
    Resolved,
    load_manifest,
    sha256_of,
)
from app.limits.settings import PersistedQueryMode, PersistedQuerySettings

QUERY = "query Panels($id: ID!) { customer(id: $id) { id } }"
OTHER = "{ customer(id: 1) { id } }"


def apq(digest: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def persisted(
    mode: PersistedQueryMode = "apq", allow_list: dict[str, str] | None = None
) -> PersistedQueries:
    # Built without validation: the allow list is handed in, not read from a manifest.
    settings = PersistedQuerySettings.model_construct(mode=mode, max_entries=10, ttl_seconds=60)
    return PersistedQueries(settings, MemoryDocuments(10, 60), allow_list)


async def refusal(queries: PersistedQueries, query: str | None, extensions: object) -> str:
    with pytest.raises(PersistedQueryError) as refused:
        await queries.resolve(query, extensions)  # type: ignore[arg-type]
    return refused.value.code


async def test_a_hash_never_registered_is_not_found_in_apollos_shape() -> None:
    with pytest.raises(PersistedQueryError) as refused:
        await persisted().resolve(None, apq(sha256_of(QUERY)))
    assert refused.value.message == "PersistedQueryNotFound"
    assert refused.value.extensions() == {"code": "PERSISTED_QUERY_NOT_FOUND"}


async def test_a_hash_with_its_query_runs_and_is_to_be_registered() -> None:
    resolved = await persisted().resolve(QUERY, apq(sha256_of(QUERY)))
    assert resolved == Resolved(QUERY, register_as=sha256_of(QUERY))


async def test_a_registered_hash_alone_runs_its_document() -> None:
    queries = persisted()
    await queries.register(sha256_of(QUERY), QUERY)
    assert await queries.resolve(None, apq(sha256_of(QUERY).upper())) == Resolved(QUERY)


async def test_a_query_that_does_not_match_its_hash_is_refused() -> None:
    assert await refusal(persisted(), OTHER, apq(sha256_of(QUERY))) == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-hex"}},
        {"persistedQuery": "yes"},
    ],
)
async def test_a_malformed_persisted_query_is_refused(extension: dict[str, object]) -> None:
    assert await refusal(persisted(), None, extension) == "BAD_USER_INPUT"


async def test_a_plain_query_runs_as_it_is_in_apq_mode() -> None:
    assert await persisted().resolve(OTHER, None) == Resolved(OTHER)


async def test_persisted_queries_are_refused_when_off() -> None:
    code = await refusal(persisted("off"), QUERY, apq(sha256_of(QUERY)))
    assert code == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_the_allow_list_runs_its_documents_by_hash_or_by_text() -> None:
    queries = persisted("allow_list", {sha256_of(QUERY): QUERY})
    assert await queries.resolve(None, apq(sha256_of(QUERY))) == Resolved(QUERY)
    assert await queries.resolve(QUERY, None) == Resolved(QUERY)


async def test_the_allow_list_refuses_any_other_document() -> None:
    queries = persisted("allow_list", {sha256_of(QUERY): QUERY})
    assert await refusal(queries, OTHER, None) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert await refusal(queries, None, apq(sha256_of(OTHER))) == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_the_allow_list_never_registers_a_new_document() -> None:
    queries = persisted("allow_list", {sha256_of(QUERY): QUERY})
    code = await refusal(queries, OTHER, apq(sha256_of(OTHER)))
    assert code == "PERSISTED_QUERY_NOT_ALLOWED"


def test_a_manifest_in_apollos_format_is_read(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    operation = {"id": sha256_of(QUERY), "name": "Panels", "type": "query", "body": QUERY}
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [operation]}
        )
    )
    assert load_manifest(manifest) == {sha256_of(QUERY): QUERY}


def test_a_manifest_of_hashes_to_documents_is_read(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_of(QUERY): QUERY}))
    assert load_manifest(manifest) == {sha256_of(QUERY): QUERY}


def test_a_directory_of_graphql_files_is_read(tmp_path: Path) -> None:
    (tmp_path / "panels.graphql").write_text(QUERY)
    (tmp_path / "notes.txt").write_text("not a document")
    assert load_manifest(tmp_path) == {sha256_of(QUERY): QUERY}


def test_a_manifest_whose_hash_is_not_its_documents_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_of(QUERY): OTHER}))
    with pytest.raises(ValueError, match="not its document's sha256"):
        load_manifest(manifest)


def test_allow_list_mode_needs_a_manifest() -> None:
    with pytest.raises(ValueError, match="manifest"):
        PersistedQuerySettings(mode="allow_list")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


async def test_documents_registered_in_redis_are_found_by_every_process(
    client: redis.Redis,
) -> None:
    settings = PersistedQuerySettings()
    await RedisDocuments(client, settings).put(sha256_of(QUERY), QUERY)
    assert await RedisDocuments(client, settings).get(sha256_of(QUERY)) == QUERY
