"""Every root field of schema.graphql as an operation aimed at one tenant's records.

Read from the schema file, so a field added to the schema is probed without anyone listing
it. Each field's arguments that name a record (a customer id, an email, a phone, a record
id, a call, an export, a write) get the keys of the tenant under attack, or keys nobody
has; the other required arguments get plain values of their type; the selection is every
leaf field two levels down (what an answer could carry of the other tenant).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
)

SCHEMA_SDL = (Path(__file__).parents[2] / "schema.graphql").read_text(encoding="utf-8")
SCHEMA: GraphQLSchema = build_schema(SCHEMA_SDL)

#: How deep the selection reaches below the root field.
DEPTH = 2

_SCALARS: dict[str, Any] = {
    "String": "isolation probe",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "ID": "probe-1",
    "Date": "2026-01-01",
    "DateTime": "2026-01-01T00:00:00+00:00",
    "Decimal": "1.00",
}


#: The fields whose ``source`` argument names a record's system (with its id); elsewhere a
#: source is the platform's (``setSourceRollout``).
_RECORD_FIELDS = frozenset({"customerBySourceId", "linkIdentity", "unlinkIdentity"})


@dataclass(frozen=True, slots=True)
class TenantKeys:
    """One tenant's records, as a lookup could name them."""

    customer_ids: tuple[str, ...]
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    #: (source, record id) of the customers' records.
    records: tuple[tuple[str, str], ...]
    contact_ids: tuple[str, ...]
    export_ids: tuple[str, ...]
    write_ids: tuple[str, ...]


#: Keys that name nobody, shaped as each kind of key is; as many of each as a tenant's
#: keys are aimed at in turn, so that the nth probe of either never meets an earlier one's
#: traces (reading a customer's trail is itself on the trail).
MISSING = TenantKeys(
    customer_ids=tuple(f"cust_nobody{n:015d}" for n in range(4)),
    emails=tuple(f"nobody.isolation{n}@example.com" for n in range(4)),
    phones=tuple(f"+44207946099{n}" for n in range(4)),
    records=tuple(("CRM", f"99999999{n}") for n in range(4)),
    contact_ids=tuple(f"contact-nobody-000{n}" for n in range(4)),
    export_ids=tuple(str(uuid.UUID(int=n + 1)) for n in range(4)),
    write_ids=tuple(str(uuid.UUID(int=n + 100)) for n in range(4)),
)


@dataclass
class Operation:
    """One document and its variables; ``sent`` the key values it names."""

    root: str
    field_name: str
    document: str
    variables: dict[str, Any]
    sent: list[str] = field(default_factory=list)

    @property
    def coordinate(self) -> str:
        return f"{self.root}.{self.field_name}"


def root_fields() -> Iterator[tuple[str, str, GraphQLField]]:
    """(root type, field name, field) of every Query, Mutation and Subscription field."""
    for root in (SCHEMA.query_type, SCHEMA.mutation_type, SCHEMA.subscription_type):
        if root is None:
            continue
        for name, root_field in root.fields.items():
            yield root.name, name, root_field


def operations(keys: TenantKeys, nth: int = 0) -> list[Operation]:
    """One operation per root field, its keys the ``nth`` of each kind (cycling)."""
    return [
        _operation(root, name, root_field, keys, nth) for root, name, root_field in root_fields()
    ]


def _operation(
    root: str, name: str, root_field: GraphQLField, keys: TenantKeys, nth: int
) -> Operation:
    op = Operation(root=root, field_name=name, document="", variables={})
    record_source, record_id = _pick(keys.records, nth)
    declarations: list[str] = []
    arguments: list[str] = []
    for arg_name, arg in root_field.args.items():
        value = _key_value(name, arg_name, keys, nth, record_source, record_id)
        if value is None:
            if not _required(arg):
                continue
            value = _plain(arg.type, keys, nth)
        else:
            op.sent.append(str(value))
        variable = f"v_{arg_name}"
        declarations.append(f"${variable}: {arg.type}")
        arguments.append(f"{arg_name}: ${variable}")
        op.variables[variable] = value
    kind = {"Query": "query", "Mutation": "mutation", "Subscription": "subscription"}[root]
    header = f"{kind} Probe({', '.join(declarations)})" if declarations else f"{kind} Probe"
    call = f"{name}({', '.join(arguments)})" if arguments else name
    op.document = f"{header} {{ {call}{_selection(root_field.type, DEPTH)} }}"
    return op


def _required(arg: GraphQLArgument) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


def _pick(values: tuple[Any, ...], nth: int) -> Any:
    return values[nth % len(values)]


def _key_value(
    field_name: str,
    arg_name: str,
    keys: TenantKeys,
    nth: int,
    record_source: str,
    record_id: str,
) -> Any:
    """The tenant's key an argument names, or None when it names no record."""
    if arg_name == "customerId":
        return _pick(keys.customer_ids, nth)
    if arg_name == "email":
        return _pick(keys.emails, nth)
    if arg_name == "phone":
        return _pick(keys.phones, nth)
    if arg_name == "contactId":
        return _pick(keys.contact_ids, nth)
    if arg_name in {"externalId", "ticketId", "subscriptionId"}:
        return record_id
    if arg_name == "source" and field_name in _RECORD_FIELDS:
        return record_source
    if arg_name == "id":
        if field_name == "exportStatus":
            return _pick(keys.export_ids, nth)
        if field_name == "writeStatus":
            return _pick(keys.write_ids, nth)
        if field_name == "customerBySourceId":
            return record_id
        return _pick(keys.customer_ids, nth)
    return None


def _plain(type_: GraphQLInputType, keys: TenantKeys, nth: int) -> Any:
    """A valid value of ``type_`` naming no record (but a customer id where an ID is one)."""
    if isinstance(type_, GraphQLNonNull):
        return _plain(type_.of_type, keys, nth)
    if isinstance(type_, GraphQLList):
        return [_plain(type_.of_type, keys, nth)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: _plain(input_field.type, keys, nth)
            for name, input_field in type_.fields.items()
            if isinstance(input_field.type, GraphQLNonNull)
            and input_field.default_value is Undefined
        }
    if isinstance(type_, GraphQLScalarType):
        if type_.name == "String":
            # Unique, so that idempotency keys never repeat between probes.
            return f"isolation probe {uuid.uuid4().hex[:8]}"
        return _SCALARS.get(type_.name, "probe")
    raise TypeError(f"no plain value for {type_}")


def _selection(type_: Any, depth: int) -> str:
    named = get_named_type(type_)
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        return " { __typename }"
    if not isinstance(named, GraphQLObjectType):
        return ""
    parts = ["__typename"]
    for name, child in named.fields.items():
        if any(_required(arg) for arg in child.args.values()):
            continue
        leaf = get_named_type(child.type)
        if isinstance(leaf, GraphQLObjectType | GraphQLUnionType | GraphQLInterfaceType):
            if depth > 1:
                parts.append(name + _selection(child.type, depth - 1))
            continue
        parts.append(name)
    return " { " + " ".join(parts) + " }"


def secrets_of(keys: TenantKeys, names: tuple[str, ...]) -> list[str]:
    """Every value of the tenant an answer must not carry: its keys and its people's names."""
    values = itertools.chain(
        keys.customer_ids,
        keys.emails,
        keys.phones,
        keys.contact_ids,
        keys.export_ids,
        keys.write_ids,
        names,
    )
    return sorted({value for value in values if value}, key=len, reverse=True)
