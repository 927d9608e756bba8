"""Plain fields read without a resolver call answer exactly as graphql-core's execution does:
the same data, the same errors at the same paths, the same nulls where errors propagate."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from resolvers.extensions.plain_fields import (
    PlainFieldExecution,
    plain_fields,
    remember_plain_fields,
)
from resolvers.schema import build_schema


class Hidden(FieldExtension):
    """Stands for the gateway's masks: a field with an extension is never plain."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        return "hidden"


@strawberry.enum
class Status(Enum):
    OPEN = "open"
    CLOSED = "closed"


@strawberry.type
class Money:
    amount: int
    currency: str
    rate: float | None = None

    @strawberry.field
    async def converted(self) -> int:
        await asyncio.sleep(0)
        if self.currency == "XXX":
            raise ValueError("no rate for this currency")
        return self.amount * 2


@strawberry.type
class Item:
    id: strawberry.ID
    source_status: str
    status: Status
    count: int
    price: Money | None
    required_price: Money
    note: str | None = None
    tags: list[str] = strawberry.field(default_factory=list)
    secret: str = strawberry.field(default="s3cret", extensions=[Hidden()])

    @strawberry.field
    def doubled(self, times: int = 2) -> int:
        return self.count * times


def item(**changes: Any) -> Item:
    fields: dict[str, Any] = {
        "id": "it_1",
        "source_status": "Active-In Progress",
        "status": Status.OPEN,
        "count": 3,
        "price": Money(amount=120, currency="GBP"),
        "required_price": Money(amount=5, currency="EUR", rate=1.5),
        "note": None,
        "tags": ["a", "b"],
    }
    fields.update(changes)
    return Item(**fields)


#: What each case's root field answers.
ITEMS: dict[str, Item | None] = {
    "whole": item(),
    "null item": None,
    "null non-null object": item(required_price=None),
    "null non-null leaf": item(source_status=None),
    "leaf that cannot be coerced": item(count="three"),
    "enum value that is not one": item(status="pending"),
    "async error under a plain object": item(price=Money(amount=1, currency="XXX")),
    "async error under a non-null plain object": item(
        required_price=Money(amount=1, currency="XXX")
    ),
}

CASE: list[str] = []


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item | None:
        return ITEMS[CASE[0]]

    @strawberry.field
    def items(self) -> list[Item | None]:
        return [ITEMS[CASE[0]], item()]


ALL_FIELDS = """
  id sourceStatus status count note tags secret doubled(times: 3)
  price { amount currency rate converted }
  requiredPrice { amount currency rate converted }
"""
QUERY = f"{{ item {{ {ALL_FIELDS} }} items {{ {ALL_FIELDS} }} }}"


def gateway_schema(*extensions: Any) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query, extensions=list(extensions), execution_context_class=PlainFieldExecution
    )
    remember_plain_fields(schema._schema)
    return schema


def answer(schema: strawberry.Schema, case: str) -> dict[str, Any]:
    CASE[:] = [case]
    result = asyncio.run(schema.execute(QUERY))
    return {
        "data": result.data,
        "errors": sorted((str(e.path), e.message, str(e.locations)) for e in result.errors or []),
    }


def test_only_fields_without_resolver_arguments_extensions_or_list_type_are_plain() -> None:
    found = plain_fields(gateway_schema()._schema)

    assert sorted(found["Item"]) == [
        "count",
        "id",
        "note",
        "price",
        "requiredPrice",
        "sourceStatus",
        "status",
    ]
    assert found["Item"]["sourceStatus"].attribute == "source_status"
    assert sorted(found["Money"]) == ["amount", "currency", "rate"]
    assert "Query" not in found


@pytest.mark.parametrize("case", sorted(ITEMS))
def test_the_answer_is_graphql_cores_own(case: str) -> None:
    expected = answer(strawberry.Schema(query=Query), case)

    assert answer(gateway_schema(), case) == expected


def test_the_whole_item_is_read_from_its_attributes() -> None:
    data = answer(gateway_schema(), "whole")["data"]

    assert data["item"]["sourceStatus"] == "Active-In Progress"
    assert data["item"]["status"] == "OPEN"
    assert data["item"]["secret"] == "hidden"
    assert data["item"]["requiredPrice"] == {
        "amount": 5,
        "currency": "EUR",
        "rate": 1.5,
        "converted": 10,
    }


class CountResolves(SchemaExtension):
    seen: list[str] = []

    def resolve(self, _next: Callable[..., Any], root: Any, info: Any, **kwargs: Any) -> Any:
        CountResolves.seen.append(info.field_name)
        return _next(root, info, **kwargs)


def test_an_extension_that_wraps_resolvers_sees_every_field() -> None:
    CountResolves.seen = []
    asyncio.run(strawberry.Schema(query=Query, extensions=[CountResolves]).execute(QUERY))
    expected = sorted(CountResolves.seen)
    CountResolves.seen = []

    answer(gateway_schema(CountResolves), "whole")

    assert sorted(CountResolves.seen) == expected
    assert "sourceStatus" in CountResolves.seen


def test_the_gateway_schema_never_reads_a_masked_field_as_plain() -> None:
    schema = build_schema()._schema
    plain = plain_fields(schema)

    assert "name" not in plain.get("Profile", {})
    assert "email" not in plain.get("Profile", {})
    assert "phone" not in plain.get("Profile", {})
    assert plain["Invoice"]["sourceStatus"].attribute == "source_status"
    assert schema.extensions  # the gateway's schema carries them for its execution


def test_a_schema_with_a_default_resolver_of_its_own_has_no_plain_fields() -> None:
    def read(source: Any, name: str) -> Any:
        return getattr(source, name)

    schema = strawberry.Schema(query=Query, config=StrawberryConfig(default_resolver=read))

    assert plain_fields(schema._schema) == {}
