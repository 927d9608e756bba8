"""Each tenant's own sources: a settings section per source, per tenant (``SCV_TENANTS__...``).

The top-level source sections (``SCV_BILLING__...``) are the default tenant's. Another
tenant's sources are its own section, ``SCV_TENANTS__<TENANT>__<SOURCE>__...``
(``SCV_TENANTS__GLOBEX__BILLING__BASE_URL``), of the same model as the top-level one: its
base URL, its credentials, its taxonomy maps, its resilience. A tenant's section never falls
back to another's: a source it has no section for is a source it does not have (its panel
null, "not connected for this tenant"), and every secret of a section it has must be its
own (a secret left at the model's default would be the sandbox's shared key, or whatever
default another tenant runs with).

The model is made from the source registry, as ``app.settings.Settings`` is, so a new
source needs no change here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, model_validator

from adapters.registry import SOURCES
from adapters.settings import SourceSettings
from kernel.models import Source


class TenantSourcesBase(BaseModel):
    """One tenant's source sections, one optional field per registered source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def section(self, source: Source) -> SourceSettings | None:
        """This tenant's section of ``source``; None when it has no such source."""
        section = getattr(self, source.value.lower(), None)
        return section if isinstance(section, SourceSettings) else None

    @model_validator(mode="after")
    def _own_secrets(self) -> TenantSourcesBase:
        for spec in SOURCES:
            section = self.section(spec.source)
            if section is None:
                continue
            borrowed = [
                name
                for name in fields_of_its_own(type(section))
                if name not in section.model_fields_set
            ]
            if borrowed:
                raise ValueError(
                    f"{spec.name}: a tenant's source section needs its own "
                    f"{', '.join(borrowed)} (it never falls back to the default tenant's)"
                )
        return self


def fields_of_its_own(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` a tenant's section must set itself: where the source is
    (``base_url``) and every secret, when the model gives them a default (the sandbox's
    shared account, which is the default tenant's)."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        if info.default is None or info.is_required():
            continue
        members = getattr(info.annotation, "__args__", (info.annotation,))
        if name == "base_url" or SecretStr in members:
            found.append(name)
    return found


if TYPE_CHECKING:
    TenantSources = TenantSourcesBase
else:
    TenantSources = create_model(
        "TenantSources",
        __base__=TenantSourcesBase,
        __doc__="One tenant's own source sections: a source without one is not the tenant's.",
        **{
            spec.name: (
                spec.settings_model | None,
                Field(
                    default=None,
                    description=f"this tenant's own {spec.name} (`SCV_TENANTS__<TENANT>__"
                    f"{spec.name.upper()}__...`); unset: the tenant has no {spec.name}",
                ),
            )
            for spec in SOURCES
        },
    )
