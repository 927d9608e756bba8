"""One place decides whose fault an error is: a client's mistake is BAD_USER_INPUT and is no
ERROR in the log; only the server's own faults are INTERNAL_SERVER_ERROR."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

import pytest
from graphql import GraphQLError

from app.http.errors import PresentErrors, present_error
from app.store.customers import Store
from resolvers.schema import build_schema

SCHEMA = build_schema(extensions=[PresentErrors])


async def errors_of(document: str, variables: dict[str, Any]) -> list[dict[str, Any]]:
    # Variables are coerced before any resolver runs: no context is needed to see them refused.
    result = await SCHEMA.execute(document, variable_values=variables, context_value=None)
    return [{"message": e.message, **(e.extensions or {})} for e in result.errors or []]


@pytest.mark.parametrize(
    ("document", "variables", "says"),
    [
        (
            "query($e: String!) { customerByEmail(email: $e) { id } }",
            {"e": 42},
            "String cannot represent a non string value",
        ),
        (
            "query($e: String!) { customerByEmail(email: $e) { id } }",
            {},
            "non-null type 'String!' to be provided",
        ),
        (
            "query($n: Int) { customers(first: $n) { totalCount } }",
            {"n": "ten"},
            "Int cannot represent non-integer value",
        ),
    ],
    ids=["wrong-type", "missing-required", "int-as-text"],
)
async def test_a_variable_of_the_wrong_type_is_the_clients_mistake(
    document: str, variables: dict[str, Any], says: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        [error] = await errors_of(document, variables)

    assert error["code"] == "BAD_USER_INPUT"
    assert says in error["message"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_value_a_field_could_not_serialise_is_the_servers_fault(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # graphql-core raises GraphQLError for a resolver's enum value it cannot represent too:
    # with a path, that is the server's result, not the client's input.
    try:
        raise GraphQLError("Enum 'TicketStatus' cannot represent value: 'weird'")
    except GraphQLError as exc:
        error = GraphQLError("boom", path=["customer", "support"], original_error=exc)

    with caplog.at_level(logging.INFO):
        presented = present_error(error)

    assert presented.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def _refusal_of(call: Awaitable[object]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("PostgreSQL accepted the value")


@pytest.mark.parametrize(
    "value",
    ["ada\x00@example.com", 2**70],
    ids=["nul-character", "integer-past-64-bits"],
)
async def test_a_value_postgresql_cannot_hold_is_the_clients_mistake(
    store: Store, value: object, caplog: pytest.LogCaptureFixture
) -> None:
    # Real PostgreSQL: which exception each refusal is, is asyncpg's and the server's to say.
    if isinstance(value, str):
        refused = await _refusal_of(store.find_by_email(value))
    else:
        refused = await _refusal_of(store.pool.fetchval("select $1::bigint", value))
    error = GraphQLError("boom", path=["customerByEmail"], original_error=refused)

    with caplog.at_level(logging.INFO):
        presented = present_error(error)

    assert presented.extensions == {"code": "BAD_USER_INPUT"}
    assert "NUL character" in presented.message
    assert "ada" not in presented.message
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_another_store_failure_stays_the_servers_fault(caplog: pytest.LogCaptureFixture) -> None:
    error = GraphQLError("boom", path=["customer"], original_error=ConnectionResetError())

    with caplog.at_level(logging.INFO):
        presented = present_error(error)

    assert presented.extensions == {"code": "INTERNAL_SERVER_ERROR"}
