"""The server errors generated documents found, kept as plain examples so that each stays fixed.

Each is a request a client may send; each must be answered without a 5xx, with the code that
names the client's mistake (never INTERNAL_SERVER_ERROR).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.fuzz.keys import FuzzStack

pytestmark = pytest.mark.e2e

ADA = "ada.lovelace@example.com"


def cursor(position: list[str]) -> str:
    """A customers cursor as app/store/facts.py writes one, at ``position``."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: By what the request does: who sends it, the document, its variables, the code it gets.
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "a NUL character in a variable that reaches PostgreSQL": (
        "agent",
        "query($c: ID!) { interaction(contactId: $c) { state } }",
        {"c": "\x00"},
        "BAD_USER_INPUT",
    ),
    "a NUL character in a literal": (
        "agent",
        'query { customerByEmail(email: "a\\u0000@example.com") { id } }',
        {},
        "BAD_USER_INPUT",
    ),
    "a non-null root field refused while its siblings still resolve": (
        "agent",
        "query($e: String!) { customerByEmail(email: $e) { billing { invoices(first: 20) { id } }"
        " support { tickets(first: 20) { subject } } profile { name } }"
        " dataQuality { generatedAt } }",
        {"e": ADA},
        "FORBIDDEN",
    ),
    "a non-null root field refused between two siblings still resolving": (
        "analyst",
        "query($e: String!) { a: customerByEmail(email: $e) { billing { delinquent } } "
        "waitingCalls(first: 5) { state } "
        "b: customerByEmail(email: $e) { support { openTicketCount } } }",
        {"e": ADA},
        "FORBIDDEN",
    ),
    "a customers cursor whose position is past 64 bits": (
        "analyst",
        "query($after: String) { customers(first: 5, after: $after,"
        " orderBy: { field: OPEN_TICKETS }) { totalCount } }",
        {"after": cursor(["open_ticket_count:asc", "9" * 30, "cust_x"])},
        "BAD_USER_INPUT",
    ),
    "an audit cursor past 64 bits": (
        "supervisor",
        "query($id: ID!, $after: String) { auditTrail(customerId: $id, after: $after) {"
        " hasNextPage } }",
        {"id": "x", "after": base64.urlsafe_b64encode(b"audit:" + b"9" * 30).decode()},
        "BAD_USER_INPUT",
    ),
    "a date that is not one": (
        "agent",
        'mutation { verifyCaller(contactId: "c", answers: { dateOfBirth: "" }) { state } }',
        {},
        "GRAPHQL_VALIDATION_FAILED",
    ),
    "the largest first everywhere": (
        "analyst",
        "query { customers(first: 2147483647) { edges { node {"
        " billing { invoices(first: 2147483647) { id } }"
        " support { tickets(first: 2147483647) { id } } } } } }",
        {},
        "FIRST_TOO_LARGE",
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_found_case_is_answered_without_a_server_error(
    fuzz_stack: FuzzStack, case: str
) -> None:
    role, document, variables, code = CASES[case]
    response = await fuzz_stack.http.post(
        fuzz_stack.graphql_url,
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {fuzz_stack.tokens[role]}"},
    )
    assert response.status_code < 500, response.text
    codes = {e["extensions"]["code"] for e in response.json().get("errors", [])}
    assert codes == {code}, response.text
