"""Settings of identity (``SCV_IDENTITY__...``): linking rules, systems of record, live links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kernel.models import Source

MatchRule = Literal["xref", "email", "phone"]

#: How sure a link made by each rule is, unless configured otherwise.
DEFAULT_RULE_CONFIDENCE: Mapping[MatchRule, float] = {"xref": 1.0, "email": 0.9, "phone": 0.7}


class SystemOfRecordSettings(BaseModel):
    """Which system's value of each fact is believed when the systems disagree.

    Used by ``SourcedValue.isSystemOfRecord`` and ``FieldConflict.chosen``; when the system
    of record holds no value, the next of CRM, BILLING, SUPPORT, IVR that has one is chosen.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Source = Field(default=Source.CRM, description="system of record for names")
    email: Source = Field(default=Source.CRM, description="system of record for emails")
    phone: Source = Field(default=Source.CRM, description="system of record for phones")
    address: Source = Field(default=Source.CRM, description="system of record for addresses")
    balance: Source = Field(default=Source.BILLING, description="system of record for balances")
    money: Source = Field(
        default=Source.BILLING, description="system of record for subscriptions and invoices"
    )
    tickets: Source = Field(default=Source.SUPPORT, description="system of record for tickets")

    def as_mapping(self) -> dict[str, Source]:
        """Fact name -> source, as the resolvers take it."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class IdentitySettings(BaseModel):
    """How records from the systems are linked into one customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(
        default="US", description="ISO country for phone numbers written without +country"
    )
    system_of_record: SystemOfRecordSettings = Field(
        default_factory=SystemOfRecordSettings,
        description="which system's value of each fact is believed (conflicts, contact points)",
    )
    match_rules: tuple[MatchRule, ...] = Field(
        default=("xref", "email", "phone"),
        description="linking rules, tried in this order: explicit cross-reference, email, phone",
    )
    rule_confidence: dict[MatchRule, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_RULE_CONFIDENCE),
        description=(
            "how sure a link made by each rule is (0 < c <= 1), stored with the link; rules "
            "left out keep their default (xref 1.0, email 0.9, phone 0.7; anchors and people 1.0)"
        ),
    )
    live_linking: bool = Field(
        default=True,
        description="a lookup the store cannot answer searches the systems and links what it finds",
    )
    live_miss_ttl_seconds: float = Field(
        default=60.0,
        ge=0,
        description="a live lookup that found nothing anywhere is not repeated for this long",
    )
    live_miss_max_entries: int = Field(
        default=10_000, ge=1, description="live misses remembered per process (oldest go first)"
    )

    @field_validator("rule_confidence", mode="after")
    @classmethod
    def _every_rule_has_a_confidence(cls, given: dict[MatchRule, float]) -> dict[MatchRule, float]:
        # A partial mapping (SCV_IDENTITY__RULE_CONFIDENCE='{"email": 0.8}') overrides only
        # the rules it names.
        return {**DEFAULT_RULE_CONFIDENCE, **given}
