"""The part of Stripe's search query language the sandbox understands, for customers.

``email:'x'`` (case-insensitive), ``name:'x'`` (case-insensitive), ``phone:'x'`` (exact),
``metadata['key']:'x'`` (exact); ``~`` instead of ``:`` is a case-insensitive substring
match (at least 3 characters); a leading ``-`` negates a clause. Clauses are joined by
``AND`` or by ``OR``, not both (as in Stripe); at most 10 clauses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.records import BillingCustomer, BillingStore

_CLAUSE = re.compile(
    r"""\s*(?P<negate>-)?(?P<field>[a-z_]+)(?:\[(?P<key>'[^']*'|"[^"]*")\])?\s*(?P<op>[:~])\s*"""
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*"""
)
_CONNECTOR = re.compile(r"(AND|OR)\s+")
_UNESCAPE = re.compile(r"\\(.)")
MAX_CLAUSES = 10


class SearchQueryError(ValueError):
    """The query is not in the supported language; the message says why."""


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``field:'value'`` (or ``~``, or negated) condition."""

    field: str
    op: str
    value: str
    negate: bool = False
    metadata_key: str | None = None

    def matches(self, customer: BillingCustomer) -> bool:
        """Whether ``customer`` satisfies this clause."""
        actual = self._value_of(customer)
        if self.op == "~":
            hit = actual is not None and self.value.lower() in actual.lower()
        elif self.field in ("email", "name"):
            hit = actual is not None and actual.lower() == self.value.lower()
        else:
            hit = actual == self.value
        return hit != self.negate

    def _value_of(self, customer: BillingCustomer) -> str | None:
        if self.field == "metadata":
            return customer.metadata.get(self.metadata_key or "")
        value: str | None = getattr(customer, self.field)
        return value

    def indexed(self, store: BillingStore) -> list[BillingCustomer] | None:
        """The candidate rows from an index, or None when the clause cannot use one."""
        if self.negate or self.op != ":" or self.field not in ("email", "name", "phone"):
            return None
        key = self.value if self.field == "phone" else self.value.lower()
        return store.customers.find(self.field, key)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Parsed clauses and how they are joined."""

    clauses: tuple[Clause, ...]
    #: "AND" or "OR" (a single clause is an AND of one).
    connector: str

    def run(self, store: BillingStore) -> list[BillingCustomer]:
        """The matching customers, in no particular order."""
        candidates = [clause.indexed(store) for clause in self.clauses]
        if self.connector == "AND":
            seeds = next((rows for rows in candidates if rows is not None), None)
        elif all(rows is not None for rows in candidates):
            seeds = list({c.id: c for rows in candidates for c in rows or ()}.values())
        else:
            seeds = None
        pool = seeds if seeds is not None else list(store.customers)
        return [c for c in pool if self.matches(c)]

    def matches(self, customer: BillingCustomer) -> bool:
        """Whether ``customer`` satisfies the query."""
        hits = (clause.matches(customer) for clause in self.clauses)
        return all(hits) if self.connector == "AND" else any(hits)


_FIELDS = ("email", "name", "phone", "metadata")


def parse_query(query: str) -> SearchQuery:
    """Parse a search query; ``SearchQueryError`` with a readable message if unsupported."""
    if not query.strip():
        raise SearchQueryError("query must not be empty")
    clauses: list[Clause] = []
    connectors: set[str] = set()
    position = 0
    while True:
        match = _CLAUSE.match(query, position)
        if match is None:
            raise SearchQueryError(f"Could not parse the query at character {position}: {query!r}")
        clauses.append(_clause(match))
        position = match.end()
        if position == len(query):
            break
        connector = _CONNECTOR.match(query, position)
        if connector is None:
            raise SearchQueryError(f"Expected AND or OR at character {position}: {query!r}")
        connectors.add(connector.group(1))
        position = connector.end()
    if len(connectors) > 1:
        raise SearchQueryError("AND and OR cannot be combined in one query")
    if len(clauses) > MAX_CLAUSES:
        raise SearchQueryError(f"A query can have at most {MAX_CLAUSES} clauses")
    return SearchQuery(tuple(clauses), connectors.pop() if connectors else "AND")


def _clause(match: re.Match[str]) -> Clause:
    field = match.group("field")
    if field not in _FIELDS:
        raise SearchQueryError(f"Field `{field}` is an unsupported search field")
    key = match.group("key")
    if (field == "metadata") != (key is not None):
        raise SearchQueryError("Use metadata['key'] to search metadata")
    value = _UNESCAPE.sub(r"\1", match.group("value")[1:-1])
    op = match.group("op")
    if op == "~" and len(value) < 3:
        raise SearchQueryError("A substring (~) search needs at least 3 characters")
    return Clause(
        field=field,
        op=op,
        value=value,
        negate=match.group("negate") is not None,
        metadata_key=key[1:-1] if key else None,
    )
