"""Errors of a result never reach the logs with their messages, which may quote data."""

from __future__ import annotations

import logging

import pytest

from app.http.errors import PresentErrors
from kernel.access import Principal
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import named_store

PHONE_DIGITS = "447700900018"
EMAIL = "ada.lovelace@example.com"


async def execute(query: str, variables: dict[str, object], failing: Exception | None) -> None:
    systems = named_customers()
    if failing is not None:
        systems.crm.errors["get_contacts"] = failing  # type: ignore[assignment]
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(
        Principal(subject="supervisor-1", role="supervisor"),
        named_store(),
        sources,
        default_region="GB",
        purpose="log tests",
    )
    schema = build_schema(extensions=[PresentErrors])
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors


async def test_a_variable_quoted_by_a_validation_error_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    query = "query($phone: String!) { customerByPhone(phone: $phone) { id } }"
    await execute(query, {"phone": int(PHONE_DIGITS)}, failing=None)
    assert PHONE_DIGITS not in caplog.text


async def test_an_unexpected_error_quoting_an_email_is_logged_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    query = '{ customer(id: "ada") { profile { name } } }'
    await execute(query, {}, failing=RuntimeError(f"no contact for {EMAIL}"))
    defects = [r for r in caplog.records if getattr(r, "error_type", None) == "RuntimeError"]
    assert defects, "the defect is logged, by its type"
    assert EMAIL not in caplog.text
    assert all(EMAIL not in str(vars(record)) for record in caplog.records)
