"""The registered sources' own facts in ``customer_facts``: how they are kept and read back.

A source's facts are declared by its registry entry (``kernel.source_facts.FactsSpec``), not
by this module: each customer's row holds one JSON object per source (``source_facts``:
``{"values": {...}, "taken_at": ...}``) and the source's filters as flags (``fact_flags``,
GIN-indexed, migration 018). The SQL is put together from fixed fragments chosen by each
fact's kind; every name and value is a parameter. ``FactsRefreshSession`` and
``FactsWriter`` (``app.store.facts_writer``) run it; ``PostgresFactsStore``
(``app.store.facts``) reads and filters with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kernel.models import Source
from kernel.source_facts import (
    FactKind,
    FactsSpec,
    FactValue,
    FactValues,
    SourceFactsRow,
    flag_holds,
    flag_key,
)

__all__ = [
    "CHOSEN_LINK",
    "SET_CUSTOMER_SQL",
    "STAGE_SQL",
    "STAGE_TABLE",
    "apply_sql",
    "decode_source_facts",
    "encode_values",
    "flags_of",
    "flags_where",
    "set_customer_sql",
    "stage_rows",
]

# A record's facts are staged as JSON, one row per (reference, page), and added up per
# reference when the pass is applied.
STAGE_TABLE = """
create temp table facts_stage_source (external_id text not null, facts jsonb not null)
    on commit drop"""
STAGE_SQL = """
insert into facts_stage_source (external_id, facts)
select e, f::jsonb from unnest($1::text[], $2::text[]) as t (e, f)
"""

# How each kind adds up over a reference's staged rows (``kernel.source_facts.combine``),
# and when its flag holds (``flag_holds``); ``{key}`` is the parameter naming the fact.
_COMBINE: Mapping[FactKind, str] = {
    FactKind.COUNT: "coalesce(sum((s.facts ->> {key})::bigint), 0)",
    FactKind.LATEST_TIME: "max((s.facts ->> {key})::timestamptz)",
}
_POSITIVE: Mapping[FactKind, str] = {
    FactKind.COUNT: "(agg.v ->> {key})::bigint > 0",
    FactKind.LATEST_TIME: "(agg.v ->> {key}) is not null",
}

# A record's facts belong to its customer only when it is the record the panels show: the
# first linked of its source (``CustomerRecord.link_for``), as for every other fact.
CHOSEN_LINK = """
    not exists (
        select 1 from identity_links as other
         where other.customer_id = l.customer_id and other.source = l.source
           and (other.linked_at, other.external_id) < (l.linked_at, l.external_id))
"""
# The customer's flags of other sources, kept; this source's, replaced.
_OTHER_FLAGS = "array(select x from unnest(f.fact_flags) as x where not starts_with(x, $1 || '.'))"


def encode_values(values: FactValues) -> str:
    """A record's (or customer's) facts as the JSON the store keeps (times ISO 8601)."""
    return json.dumps(
        {name: v.isoformat() if isinstance(v, datetime) else v for name, v in values.items()}
    )


def stage_rows(rows: Sequence[tuple[str, FactValues]]) -> tuple[list[str], list[str]]:
    """The staging statement's arguments for one page of (reference, facts)."""
    return [ref for ref, _ in rows], [encode_values(values) for _, values in rows]


def apply_sql(
    source: Source, spec: FactsSpec, taken_at: datetime, tenant: str
) -> tuple[str, list[object]]:
    """The statement that applies a pass's staged facts of ``source`` to every customer of
    ``tenant`` linked to it (a reference with no staged row gets the facts of none: 0 and
    null; another tenant's record with the same reference is none of this pass's)."""
    args: list[object] = [source.value, taken_at, encode_values(spec.empty()), tenant]

    def param(value: object) -> str:
        args.append(value)
        return f"${len(args)}::text"

    combined = ", ".join(
        f"{(key := param(fact.name))}, {_COMBINE[fact.kind].format(key=key)}" for fact in spec.facts
    )
    flags = ", ".join(
        f"case when {_POSITIVE[spec.fact(flag.fact).kind].format(key=param(flag.fact))} "
        f"then {param(flag_key(source, flag))} end"
        for flag in spec.flags
    )
    flag_array = f"array_remove(array[{flags}]::text[], null)" if flags else "'{}'::text[]"
    sql = f"""
    update customer_facts as f
       set source_facts = f.source_facts || jsonb_build_object($1::text, jsonb_build_object(
               'values', coalesce(a.v, $3::jsonb), 'taken_at', $2::timestamptz)),
           fact_flags = {_OTHER_FLAGS} || coalesce(a.flags, '{{}}'::text[])
      from identity_links as l
      left join (
          select agg.external_id, agg.v, {flag_array} as flags
            from (select s.external_id, jsonb_build_object({combined}) as v
                    from facts_stage_source as s group by s.external_id) as agg
      ) as a on a.external_id = l.external_id
     where l.source = $1 and l.tenant = $4 and f.customer_id = l.customer_id and {CHOSEN_LINK}
    """  # noqa: S608 - fragments are fixed; every name and value is a parameter
    return sql, args


SET_CUSTOMER_SQL = f"""
update customer_facts as f
   set source_facts = f.source_facts || jsonb_build_object($1::text, jsonb_build_object(
           'values', $3::jsonb, 'taken_at', $4::timestamptz)),
       fact_flags = {_OTHER_FLAGS} || $5::text[]
 where f.customer_id = $2
"""  # noqa: S608 - a fixed fragment


def flags_of(source: Source, spec: FactsSpec, values: FactValues) -> list[str]:
    """The flags ``values`` raise (as ``apply_sql`` raises them for a whole pass)."""
    return [flag_key(source, flag) for flag in spec.flags if flag_holds(values.get(flag.fact))]


def set_customer_sql(
    customer_id: str, source: Source, spec: FactsSpec, values: FactValues, taken_at: datetime
) -> tuple[str, list[object]]:
    """The statement that writes one customer's facts of ``source``, read just now."""
    facts = {fact.name: values.get(fact.name, fact.empty) for fact in spec.facts}
    return SET_CUSTOMER_SQL, [
        source.value,
        customer_id,
        encode_values(facts),
        taken_at,
        flags_of(source, spec, facts),
    ]


def flags_where(flags: frozenset[tuple[str, bool]], param: Any) -> list[str]:
    """SQL conditions for the filter's flags: wanted ones all raised (``@>``), unwanted
    ones none (``&&``); both are answered by the flags' GIN index."""
    wanted = sorted(key for key, holds in flags if holds)
    unwanted = sorted(key for key, holds in flags if not holds)
    conditions = []
    if wanted:
        conditions.append(f"f.fact_flags @> {param(wanted)}::text[]")
    if unwanted:
        conditions.append(f"not (f.fact_flags && {param(unwanted)}::text[])")
    return conditions


def _decode_value(value: object) -> FactValue:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def decode_source_facts(document: str | None) -> dict[Source, SourceFactsRow]:
    """A row's ``source_facts`` as the kernel's values (a source no longer known is left
    out; counts are JSON numbers, times ISO 8601 strings)."""
    if not document:
        return {}
    parsed: dict[str, Any] = json.loads(document)
    rows: dict[Source, SourceFactsRow] = {}
    for name, group in parsed.items():
        try:
            source = Source(name)
        except ValueError:
            continue
        values = group.get("values") or {}
        taken = group.get("taken_at")
        rows[source] = SourceFactsRow(
            values={fact: _decode_value(value) for fact, value in values.items()},
            taken_at=datetime.fromisoformat(taken) if isinstance(taken, str) else None,
        )
    return rows
