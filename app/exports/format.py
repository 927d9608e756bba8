"""What an export file holds: its columns, how a batch of rows is written, masking included.

Each column is one fact of ``CustomerFacts``: the read model's own (``ExportField``), or one
a registered source declares (its registry entry's ``facts``: ``orderCount``, and when they
were taken, ``ordersTakenAt``), named as the graph names it. Personal ones are masked with the very
masks the graph uses for an analyst (``resolvers.extensions.masking``), when the chunk is written:
the
file at rest holds no more than any reader of it may see, so it is served as it is stored.

NDJSON: one JSON object per line, keys in the order asked. CSV (RFC 4180, CRLF line ends):
a header row, then one row per customer; a text cell that a spreadsheet would run as a
formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a
leading ``'``, as OWASP advises against CSV injection. Amounts are exact decimal strings,
times ISO 8601 in UTC, linked sources a JSON list (NDJSON) or ``;``-joined (CSV).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from adapters.entry import SourceSpec
from adapters.registry import with_facts
from kernel.customer_facts import CustomerFacts, CustomerFilter
from kernel.exports import ExportColumn, ExportField, ExportFormat
from kernel.models import Source
from kernel.source_facts import taken_at_column
from resolvers.extensions.masking import Mask, mask_name

__all__ = [
    "COLUMNS",
    "Column",
    "content_type",
    "filter_from_json",
    "filter_to_json",
    "header_chunk",
    "personal_coordinates",
    "render_batch",
]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Column:
    """One column: how its value is read from a row, and its mask if it is personal."""

    read: Callable[[CustomerFacts], Any]
    mask: Mask | None = None
    #: The schema coordinate the audit trail names for a personal column.
    coordinate: str | None = None


_OWN_COLUMNS: Mapping[ExportColumn, Column] = {
    ExportField.CUSTOMER_ID: Column(lambda row: row.customer_id),
    ExportField.DISPLAY_NAME: Column(
        lambda row: row.display_name, mask=mask_name, coordinate="Customer.displayName"
    ),
    ExportField.CREATED_AT: Column(lambda row: row.created_at),
    ExportField.LINKED_SOURCES: Column(lambda row: row.linked_sources),
    ExportField.BALANCE: Column(lambda row: row.balance),
    ExportField.CURRENCY: Column(lambda row: row.currency),
    ExportField.DELINQUENT: Column(lambda row: row.delinquent),
    ExportField.SUBSCRIPTION_STATUS: Column(lambda row: row.subscription_status),
    ExportField.OPEN_TICKET_COUNT: Column(lambda row: row.open_ticket_count),
    ExportField.LAST_TICKET_AT: Column(lambda row: row.last_ticket_at),
    ExportField.LAST_CONTACT_AT: Column(lambda row: row.last_contact_at),
    ExportField.COUNTRY: Column(lambda row: row.country),
    ExportField.BILLING_TAKEN_AT: Column(lambda row: row.billing_taken_at),
    ExportField.SUPPORT_TAKEN_AT: Column(lambda row: row.support_taken_at),
    ExportField.CRM_TAKEN_AT: Column(lambda row: row.crm_taken_at),
}


def _fact(source: Source, name: str) -> Callable[[CustomerFacts], Any]:
    def read(row: CustomerFacts) -> Any:
        found = row.source_facts.get(source)
        return found.values.get(name) if found is not None else None

    return read


def _taken_at(source: Source) -> Callable[[CustomerFacts], Any]:
    def read(row: CustomerFacts) -> Any:
        found = row.source_facts.get(source)
        return found.taken_at if found is not None else None

    return read


def source_columns(entries: Sequence[SourceSpec]) -> dict[ExportColumn, Column]:
    """The columns of the facts ``entries`` declare (none of them personal)."""
    columns: dict[ExportColumn, Column] = {}
    for entry in entries:
        if entry.facts is None:
            continue
        for fact in entry.facts.facts:
            columns[fact.column] = Column(_fact(entry.source, fact.name))
        columns[taken_at_column(entry.source)] = Column(_taken_at(entry.source))
    return columns


#: Every column an export may have: the read model's own, then the registry's sources'.
COLUMNS: Mapping[ExportColumn, Column] = {**_OWN_COLUMNS, **source_columns(with_facts())}


def personal_coordinates(fields: Sequence[ExportColumn]) -> tuple[str, ...]:
    """The schema coordinates of the personal columns among ``fields`` (for the audit)."""
    return tuple(
        coordinate for field in fields if (coordinate := COLUMNS[field].coordinate) is not None
    )


def content_type(export_format: ExportFormat) -> str:
    """The media type a file of this format is served as."""
    if export_format is ExportFormat.CSV:
        return "text/csv; charset=utf-8"
    return "application/x-ndjson"


def header_chunk(fields: Sequence[ExportColumn], export_format: ExportFormat) -> str | None:
    """The file's first chunk before any row: the CSV header row; NDJSON has none."""
    if export_format is not ExportFormat.CSV:
        return None
    return _csv_lines([[str(field) for field in fields]])


def render_batch(
    rows: Sequence[CustomerFacts],
    fields: Sequence[ExportColumn],
    export_format: ExportFormat,
    region: str,
) -> str:
    """A batch of rows as one chunk of the file, personal columns masked."""
    values = [[_masked(COLUMNS[field], row, region) for field in fields] for row in rows]
    if export_format is ExportFormat.CSV:
        return _csv_lines([[_csv_cell(value) for value in line] for line in values])
    names = [str(field) for field in fields]
    return "".join(
        orjson.dumps(
            {name: _json_value(value) for name, value in zip(names, line, strict=True)}
        ).decode()
        + "\n"
        for line in values
    )


def _masked(column: Column, row: CustomerFacts, region: str) -> Any:
    value = column.read(row)
    if column.mask is None or value is None:
        return value
    return column.mask(value, region)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [str(item) for item in value]
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return ";".join(str(item) for item in value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return str(value)


def _csv_lines(lines: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    return buffer.getvalue()


# --- the filter, as a job keeps it ----------------------------------------------------------


def filter_to_json(customer_filter: CustomerFilter) -> dict[str, Any]:
    """``customer_filter`` as JSON for ``export_jobs.filter`` (sets sorted, times ISO 8601)."""
    return {
        "delinquent": customer_filter.delinquent,
        "min_open_tickets": customer_filter.min_open_tickets,
        "subscription_status_in": sorted(customer_filter.subscription_status_in),
        "last_contact_before": _iso(customer_filter.last_contact_before),
        "last_contact_after": _iso(customer_filter.last_contact_after),
        "country_in": sorted(customer_filter.country_in),
        "linked_to": sorted(source.value for source in customer_filter.linked_to),
        "missing_from": sorted(source.value for source in customer_filter.missing_from),
        "source_flags": dict(sorted(customer_filter.source_flags)),
    }


def filter_from_json(document: Mapping[str, Any]) -> CustomerFilter:
    """The filter ``filter_to_json`` wrote; ``KeyError``/``ValueError`` for anything else."""
    return CustomerFilter(
        delinquent=document["delinquent"],
        min_open_tickets=document["min_open_tickets"],
        subscription_status_in=frozenset(document["subscription_status_in"]),
        last_contact_before=_time(document["last_contact_before"]),
        last_contact_after=_time(document["last_contact_after"]),
        country_in=frozenset(document["country_in"]),
        linked_to=frozenset(Source(value) for value in document["linked_to"]),
        missing_from=frozenset(Source(value) for value in document["missing_from"]),
        # Absent from the jobs queued before the sources' own filters existed (migration
        # 018 turned the one such condition into its flag).
        source_flags=frozenset(_flags(document.get("source_flags") or {}).items()),
    )


def _flags(document: Mapping[str, Any]) -> dict[str, bool]:
    """The sources' flags a job's filter holds (``<SOURCE>.<flag name>``: true or false)."""
    if not all(isinstance(key, str) and isinstance(v, bool) for key, v in document.items()):
        raise ValueError("a source flag is a name and true or false")
    return dict(document)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
