"""The CRM's request bodies: contact search (filters, groups, sorts) and batch read.

Bodies are pydantic models with HubSpot's field names, refusing unknown fields; a filter
knows whether a contact matches it, and a body that does not parse is HubSpot's 400.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from sandbox.crm.search_order import (
    RANGE_OPERATORS,
    SYSTEM_PROPERTIES,
    in_range,
    system_number,
)
from sandbox.crm.shapes import validation_error
from sandbox.records import CrmContact, CrmStore
from sandbox.responses import JSON

MAX_BATCH = 100
MAX_SEARCH_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6

Scalar = StrictInt | StrictFloat | StrictBool | str
Operator = Literal[
    "EQ",
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "BETWEEN",
]


class Filter(BaseModel):
    """One condition on one property (field names are HubSpot's, hence camelCase)."""

    model_config = ConfigDict(extra="forbid")

    propertyName: str
    operator: Operator
    value: Scalar | None = None
    values: list[Scalar] | None = None
    #: The upper bound of ``BETWEEN``.
    highValue: Scalar | None = None

    def matches(self, contact: CrmContact) -> bool:
        system = SYSTEM_PROPERTIES.get(self.propertyName)
        if system is not None:
            return self._matches_number(system(contact))
        actual = contact.properties.get(self.propertyName)
        if self.operator in RANGE_OPERATORS:
            number = _number_or_none(actual)
            return number is not None and self._matches_number(number)
        if self.operator == "HAS_PROPERTY":
            return actual is not None
        if self.operator == "NOT_HAS_PROPERTY":
            return actual is None
        if self.operator in ("IN", "NOT_IN"):
            hit = actual is not None and any(
                self._equal(actual, value) for value in self.values or ()
            )
            return hit == (self.operator == "IN")
        if self.operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(self.value or "").lower().strip("*")
            hit = actual is not None and token in actual.lower()
            return hit == (self.operator == "CONTAINS_TOKEN")
        hit = actual is not None and self.value is not None and self._equal(actual, self.value)
        return hit == (self.operator == "EQ")

    def _matches_number(self, actual: float) -> bool:
        """System properties and range operators compare numbers (dates in milliseconds)."""
        name = self.propertyName
        if self.operator == "HAS_PROPERTY":
            return True
        if self.operator == "NOT_HAS_PROPERTY":
            return False
        if self.operator in ("IN", "NOT_IN"):
            hit = any(actual == system_number(name, value) for value in self.values or ())
            return hit == (self.operator == "IN")
        low = system_number(name, self.value)
        if self.operator in RANGE_OPERATORS:
            high = None if self.highValue is None else system_number(name, self.highValue)
            return in_range(self.operator, actual, low, high)
        return (actual == low) == (self.operator != "NEQ")

    def _equal(self, actual: str, wanted: Scalar) -> bool:
        text = str(wanted).lower() if isinstance(wanted, bool) else str(wanted)
        # Phones compare exactly on the stored string; everything else ignores case.
        if self.propertyName == "phone":
            return actual == text
        return actual.lower() == text.lower()


class FilterGroup(BaseModel):
    """Filters that must all hold (groups are ORed)."""

    model_config = ConfigDict(extra="forbid")

    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS_PER_GROUP)

    def matches(self, contact: CrmContact) -> bool:
        return all(condition.matches(contact) for condition in self.filters)

    def indexed(self, store: CrmStore) -> list[CrmContact] | None:
        """Candidates from the email or phone index, or None when no filter can use one."""
        for condition in self.filters:
            if condition.operator == "EQ" and condition.value is not None:
                if condition.propertyName == "email":
                    return store.contacts.find("email", str(condition.value).lower())
                if condition.propertyName == "phone":
                    return store.contacts.find("phone", str(condition.value))
        return None


class SearchBody(BaseModel):
    """``POST .../contacts/search``."""

    model_config = ConfigDict(extra="forbid")

    filterGroups: list[FilterGroup] = Field(default_factory=list, max_length=MAX_FILTER_GROUPS)
    properties: list[str] = Field(default_factory=list)
    limit: int = Field(default=10, ge=1, le=MAX_SEARCH_LIMIT)
    after: str | int = "0"
    #: The first sort applies (``lastmodifieddate`` ascending for incremental reads).
    sorts: list[JSON | str] = Field(default_factory=list)
    #: Free text, matched (case-insensitively) inside name, email and phone.
    query: str | None = None


Body = TypeVar("Body", bound=BaseModel)


class BatchInput(BaseModel):
    """One id (or email, with ``idProperty``) to read."""

    model_config = ConfigDict(extra="forbid")

    id: str | int


class BatchReadBody(BaseModel):
    """``POST .../contacts/batch/read``."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[BatchInput] = Field(max_length=MAX_BATCH)
    properties: list[str] = Field(default_factory=list)
    propertiesWithHistory: list[str] = Field(default_factory=list)
    idProperty: str | None = None


def _parse(model: type[Body], data: JSON) -> Body:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise validation_error(f"Invalid input JSON: {details}") from None


def _number_or_none(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
