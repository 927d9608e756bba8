"""IVR platform, Amazon Connect-shaped: contact attributes set by the IVR flow."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import AwareDatetime, Field

from adapters.http.client import CallPolicy, Clock, UpstreamHttp, utc_now
from adapters.ivr.settings import IvrSettings
from adapters.wire import WireModel, text
from kernel.errors import UpstreamContractError
from kernel.models import IvrContact, IvrContactId, IvrContactSummary, Source


def ivr_auth_headers(settings: IvrSettings) -> dict[str, str]:
    """The headers that authenticate the gateway to the IVR platform: an API key."""
    return {"x-api-key": settings.api_key.get_secret_value()}


def describe_connect_error(body: Any) -> str | None:
    """Amazon's ``__type`` (``ResourceNotFoundException``); never its ``Message``."""
    error_type = body.get("__type") if isinstance(body, dict) else None
    if not isinstance(error_type, str):
        return None
    # AWS may prefix the type with a namespace: "com.amazonaws.connect#ThrottlingException".
    return error_type.rsplit("#", 1)[-1]


def _score(raw: str | None) -> float | None:
    """``AuthScore`` as a number, or None when the flow set something that is not one."""
    try:
        score = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _ContactAttributes(WireModel):
    attributes: dict[str, str] = Field(alias="Attributes")


class _CustomerEndpoint(WireModel):
    address: str | None = Field(default=None, alias="Address")


class _ContactSummary(WireModel):
    id: str = Field(alias="Id")
    initiation_timestamp: AwareDatetime = Field(alias="InitiationTimestamp")
    customer_endpoint: _CustomerEndpoint | None = Field(default=None, alias="CustomerEndpoint")


class _ContactSummaryPage(WireModel):
    contacts: list[_ContactSummary] = Field(alias="ContactSummaryList")
    next_token: str | None = Field(default=None, alias="NextToken")


class HttpIvrAdapter:
    """``IvrAdapter`` over an Amazon Connect-shaped contact attributes API.

    ``client`` comes from
    ``adapters.http.client.build_client(settings, ivr_auth_headers(settings))``;
    the caller owns and closes it.
    """

    def __init__(
        self,
        settings: IvrSettings,
        client: httpx.AsyncClient,
        *,
        clock: Clock = utc_now,
        policy: CallPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = UpstreamHttp(
            client, Source.IVR, describe_connect_error, clock=clock, policy=policy
        )

    async def get_contact(self, contact_id: IvrContactId) -> IvrContact:
        """The attributes of one contact, in canonical names and in full."""
        wire = await self._http.request_model(
            _ContactAttributes,
            "GET",
            f"/contacts/{self._http.segment(contact_id)}/attributes",
            resource="contact attributes",
        )
        attributes = wire.attributes
        return IvrContact(
            contact_id=contact_id,
            caller_number=text(attributes.get("CallerNumber")),
            customer_ref_type=text(attributes.get("CustomerRefType")),
            customer_ref_value=text(attributes.get("CustomerRefValue")),
            auth_method=text(attributes.get("AuthMethod")),
            auth_result=text(attributes.get("AuthResult")),
            auth_score=_score(attributes.get("AuthScore")),
            attributes=dict(attributes),
            fetched_at=self._clock(),
        )

    async def list_contacts(self, since: datetime) -> list[IvrContactSummary]:
        """Contacts initiated at or after ``since`` (aware), oldest first, every page."""
        summaries: list[IvrContactSummary] = []
        params: dict[str, str | int] = {
            "since": _iso_utc(since),
            "MaxResults": self._settings.page_size,
        }
        previous_token: str | None = None
        while True:
            page = await self._http.request_model(
                _ContactSummaryPage, "GET", "/contacts", resource="contact list", params=params
            )
            summaries.extend(
                IvrContactSummary(
                    contact_id=IvrContactId(c.id),
                    caller_number=text(c.customer_endpoint.address)
                    if c.customer_endpoint
                    else None,
                    initiated_at=c.initiation_timestamp,
                )
                for c in page.contacts
            )
            if not page.next_token:
                break
            if page.next_token == previous_token:
                raise UpstreamContractError(Source.IVR, "contact list repeated its NextToken")
            previous_token = page.next_token
            params = {**params, "NextToken": page.next_token}
        # The Protocol promises oldest first whatever order the pages came in.
        summaries.sort(key=lambda s: s.initiated_at)
        return summaries
