"""Settings of the limits that protect the systems (``SCV_LIMITS__*``) and of persisted queries
(``SCV_PERSISTED_QUERIES__*``); see README's configuration section for every name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A query's cost, per role: an agent's whole customer costs about 140, an analyst's page of
#: 100 customers with three panels about 3,800 (README, "Limits that protect the systems").
DEFAULT_MAX_COST = {"agent": 1_000, "supervisor": 2_000, "analyst": 10_000, "ivr": 200}
#: Cost a principal may spend per minute, per role; a token bucket refilled continuously. A
#: guard against abuse, not the scheduler (fair share is): an analyst's is what one analyst
#: paging back to back is served alone, measured by ``make bench-fair-share`` (docs/limits.md,
#: "Budget"): 1,006 pages of cost 2,852 in 24 s for two analysts, 3.6 million a minute each.
DEFAULT_BUDGET = {"agent": 20_000, "supervisor": 20_000, "analyst": 3_600_000, "ivr": 5_000}

PersistedQueryMode = Literal["off", "apq", "allow_list"]


class QueryLimitSettings(BaseModel):
    """How big, deep, wide and costly one GraphQL request may be, and how much per minute."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_depth: int = Field(default=10, ge=1, description="deepest nesting of selections")
    max_aliases: int = Field(default=15, ge=0, description="aliased fields per document")
    max_duplicate_fields: int = Field(
        default=5,
        ge=1,
        description="times one field (its response key) may be selected in one selection "
        "set, counted through fragments; more is refused with TOO_MANY_DUPLICATE_FIELDS",
    )
    max_tokens: int = Field(
        default=2000, ge=10, description="lexical tokens per document (the parser stops there)"
    )
    max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="largest request body; larger is refused with HTTP 413 before parsing",
    )
    max_first: int = Field(
        default=100, ge=1, description="largest `first` on any list or connection argument"
    )
    max_cost: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_MAX_COST),
        description="largest cost of one query, per role (app/limits/cost.py, README)",
    )
    default_max_cost: int = Field(
        default=200, ge=1, description="largest cost of one query for a role not in max_cost"
    )
    budget_enabled: bool = Field(
        default=True, description="charge each query's cost to its principal's budget"
    )
    budget_per_minute: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_BUDGET),
        description="cost each principal may spend per minute, per role (token bucket)",
    )
    default_budget_per_minute: int = Field(
        default=2_000, ge=1, description="budget per minute for a role not in budget_per_minute"
    )
    introspection: bool | None = Field(
        default=None,
        description="allow introspection; unset: on in demo mode, off otherwise. Off also "
        "hides 'Did you mean ...' suggestions",
    )
    graphiql: bool | None = Field(
        default=None, description="serve GraphiQL at GET /graphql; unset: on in demo mode only"
    )

    @model_validator(mode="after")
    def _every_query_fits_its_budget(self) -> QueryLimitSettings:
        # A query costlier than the whole bucket could never run: refuse the configuration.
        if not self.budget_enabled:
            return self
        roles = set(self.max_cost) | set(self.budget_per_minute)
        too_big = sorted(role for role in roles if self.max_cost_for(role) > self.budget_for(role))
        if self.default_max_cost > self.default_budget_per_minute:
            too_big.append("(default)")
        if too_big:
            raise ValueError(
                f"max_cost exceeds budget_per_minute for role(s): {', '.join(too_big)}"
            )
        return self

    def max_cost_for(self, role: str) -> int:
        """The largest cost of one query for ``role``."""
        return self.max_cost.get(role, self.default_max_cost)

    def budget_for(self, role: str) -> int:
        """The cost ``role`` may spend per minute."""
        return self.budget_per_minute.get(role, self.default_budget_per_minute)

    def introspection_on(self, demo: bool) -> bool:
        """Whether introspection is allowed: as set, else as ``demo``."""
        return demo if self.introspection is None else self.introspection

    def graphiql_on(self, demo: bool) -> bool:
        """Whether GraphiQL is served: as set, else as ``demo``."""
        return demo if self.graphiql is None else self.graphiql


class PersistedQuerySettings(BaseModel):
    """Automatic persisted queries (Apollo's sha256 convention) and the allow-list mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: PersistedQueryMode = Field(
        default="apq",
        description="off: full queries only; apq: clients may register documents by sha256 "
        "and then send the hash alone; allow_list: only the manifest's documents run",
    )
    manifest: Path | None = Field(
        default=None,
        description="allow_list documents: a JSON manifest (Apollo's persisted query manifest, "
        "or an object of sha256 -> document) or a directory of .graphql files",
    )
    max_entries: int = Field(
        default=1000, ge=1, description="APQ documents kept in each process (least recent go)"
    )
    ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="how long a registered APQ document is kept"
    )

    @model_validator(mode="after")
    def _allow_list_has_a_manifest(self) -> PersistedQuerySettings:
        if self.mode == "allow_list" and self.manifest is None:
            raise ValueError("persisted_queries.mode allow_list needs persisted_queries.manifest")
        return self
