"""Tenancy's settings section (``SCV_TENANCY__...``): the tenants served, the default one and
the header a request names its tenant in."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kernel.tenancy import TenantId, tenant_id

#: The tenant served unless configured otherwise (a single-client deployment's).
DEFAULT_TENANT = TenantId("acme")


class TenancySettings(BaseModel):
    """The tenants the gateway serves; one (``acme``) unless told otherwise.

    With a single tenant, a token without the tenants claim acts for it, so a single-client
    deployment needs no tenant anywhere; with several, every token must name its tenants.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenants: tuple[TenantId, ...] = Field(
        default=(DEFAULT_TENANT,),
        min_length=1,
        description="the tenants (clients) served, as a JSON list of names: lower-case "
        'letters, digits and "_" (`["acme", "globex"]`)',
    )
    default_tenant: TenantId = Field(
        default=DEFAULT_TENANT,
        description="the tenant that rows stored before tenancy belong to (migration 016), "
        "and the one `scv token` and `scv sync` use unless told otherwise; one of `tenants`",
    )
    header: str = Field(
        default="x-tenant",
        min_length=1,
        description="the request header (or WebSocket `connection_init` key) naming the tenant "
        "a request acts for; needed only when its token may act for several",
    )

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_names(cls, names: object) -> object:
        if isinstance(names, list | tuple):
            return tuple(tenant_id(name) if isinstance(name, str) else name for name in names)
        return names

    @field_validator("default_tenant", mode="before")
    @classmethod
    def _default_name(cls, name: object) -> object:
        return tenant_id(name) if isinstance(name, str) else name

    @field_validator("header")
    @classmethod
    def _header_name(cls, header: str) -> str:
        # Starlette's headers are matched case-insensitively; WebSocket params are lowered.
        return header.strip().lower()

    @model_validator(mode="after")
    def _default_is_served(self) -> TenancySettings:
        if len(set(self.tenants)) != len(self.tenants):
            raise ValueError("a tenant is named twice in `tenants`")
        if self.default_tenant not in self.tenants:
            raise ValueError("`default_tenant` must be one of `tenants`")
        return self
