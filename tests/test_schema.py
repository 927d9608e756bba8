"""schema.graphql is the printed schema: clients read it, so it must match the code."""

from __future__ import annotations

from pathlib import Path

from resolvers.schema import schema_sdl

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_matches_the_code() -> None:
    printed = (ROOT / "schema.graphql").read_text()
    assert printed == schema_sdl(), "schema.graphql is stale: run `make schema`"


def test_the_schema_has_the_names_clients_rely_on() -> None:
    sdl = schema_sdl()
    for line in (
        "customer(id: ID!): Customer",
        "customerByPhone(phone: String!): Customer",
        "customerByEmail(email: String!): Customer",
        "customerBySourceId(source: Source!, id: ID!): Customer",
        "invoices(first: Int = 10): [Invoice!]!",
        "openTicketCount: Int!",
    ):
        assert line in sdl
