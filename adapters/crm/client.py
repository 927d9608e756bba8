"""CRM, HubSpot CRM v3-shaped: the system of record for name and contact details."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx
from pydantic import AwareDatetime, Field

from adapters.crm.settings import CrmSettings
from adapters.http.client import CallPolicy, Clock, UpstreamHttp, gather_requests, utc_now
from adapters.wire import WireModel, address_or_none, text
from kernel.errors import UpstreamContractError
from kernel.models import BillingCustomerId, CrmContact, CrmContactId, Source

CONTACT_PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    # Not shown to anyone: a fact for checking a caller's knowledge answers.
    "date_of_birth",
)
#: HubSpot's association type of a note to a contact.
NOTE_TO_CONTACT = 202
#: HubSpot's most ids per batch read.
BATCH_SIZE = 100
#: HubSpot's search pages through at most this many results of one query.
SEARCH_WINDOW = 10_000


def _date_or_none(raw: str | None) -> date | None:
    """HubSpot date properties are ``YYYY-MM-DD``; anything else is treated as absent.

    Lenient on purpose: a malformed birth date must not cost the agent the whole profile,
    and an absent one only means knowledge checks cannot use it.
    """
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def crm_auth_headers(settings: CrmSettings) -> dict[str, str]:
    """The headers that authenticate the gateway to the CRM: a HubSpot private-app token."""
    return {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}


def describe_hubspot_error(body: Any) -> str | None:
    """HubSpot's error ``category`` (``OBJECT_NOT_FOUND``); never its ``message``."""
    category = body.get("category") if isinstance(body, dict) else None
    return category if isinstance(category, str) else None


class _HubSpotContact(WireModel):
    id: str
    # HubSpot sends every property value as a string, or null when it is not set.
    properties: dict[str, str | None]
    created_at: AwareDatetime = Field(alias="createdAt")
    updated_at: AwareDatetime = Field(alias="updatedAt")


class _HubSpotObject(WireModel):
    """Any CRM object as a write answers it: its id is all the gateway keeps."""

    id: str


class _HubSpotNext(WireModel):
    after: str


class _HubSpotPaging(WireModel):
    next: _HubSpotNext | None = None


class _HubSpotPage(WireModel):
    """A page of a list or a search; also a batch read's answer, which has no ``paging``."""

    results: list[_HubSpotContact]
    paging: _HubSpotPaging | None = None

    @property
    def after(self) -> str | None:
        return self.paging.next.after if self.paging and self.paging.next else None


class HttpCrmAdapter:
    """``CrmAdapter`` over a HubSpot CRM v3-shaped HTTP API.

    ``client`` comes from
    ``adapters.http.client.build_client(settings, crm_auth_headers(settings))``;
    the caller owns and closes it.
    """

    def __init__(
        self,
        settings: CrmSettings,
        client: httpx.AsyncClient,
        *,
        clock: Clock = utc_now,
        policy: CallPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = UpstreamHttp(
            client, Source.CRM, describe_hubspot_error, clock=clock, policy=policy
        )
        # HubSpot returns only the properties asked for, so every one we read is named.
        self._properties = [*CONTACT_PROPERTIES, settings.billing_id_property]

    async def get_contacts(self, ids: Sequence[CrmContactId]) -> dict[CrmContactId, CrmContact]:
        """The contacts with these ids: one batch read per 100, concurrently.

        A batch with unknown ids answers 207 with them listed in ``errors``: they are
        simply absent here.
        """
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + BATCH_SIZE] for i in range(0, len(unique), BATCH_SIZE)]
        pages = await gather_requests(self._batch_read(chunk) for chunk in chunks)
        return {contact.id: contact for page in pages for contact in page}

    async def search_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]:
        """Contacts whose email or phone equals the one given: one filter group for each."""
        groups = [
            {"filters": [{"propertyName": name, "operator": "EQ", "value": value}]}
            for name, value in (("email", email), ("phone", phone))
            if value is not None
        ]
        if not groups:
            return []
        found: dict[CrmContactId, CrmContact] = {}
        after = "0"
        while True:
            body = {
                "filterGroups": groups,
                "properties": self._properties,
                "limit": self._settings.page_size,
                "after": after,
            }
            page = await self._http.request_model(
                _HubSpotPage,
                "POST",
                "/crm/v3/objects/contacts/search",
                resource="contact search result",
                json=body,
                # A search only reads: repeating it is as safe as repeating a GET.
                idempotent=True,
            )
            for contact in self._contacts(page):
                found.setdefault(contact.id, contact)
            if page.after is None:
                return list(found.values())
            if page.after == after:
                raise UpstreamContractError(Source.CRM, "contact search repeated its cursor")
            after = page.after

    async def iter_contacts(self) -> AsyncIterator[list[CrmContact]]:
        """Every contact, one page of ``settings.page_size`` at a time, following ``after``."""
        after: str | None = None
        while True:
            params: dict[str, str | int] = {
                "limit": self._settings.page_size,
                "properties": ",".join(self._properties),
            }
            if after is not None:
                params["after"] = after
            page = await self._http.request_model(
                _HubSpotPage,
                "GET",
                "/crm/v3/objects/contacts",
                resource="contact list",
                params=params,
            )
            yield self._contacts(page)
            if page.after is None:
                return
            if page.after == after:
                raise UpstreamContractError(Source.CRM, "contact list repeated its cursor")
            after = page.after

    async def iter_contacts_modified_since(
        self, since: datetime
    ) -> AsyncIterator[list[CrmContact]]:
        """Contacts modified at or after ``since``: HubSpot's search on ``lastmodifieddate``.

        Sorted ascending and paged with ``after``, as HubSpot recommends for incremental
        reads. One search pages through at most 10,000 results: before the next page would
        pass that, the search starts again from the modification time of the last contact
        read (contacts modified at that very time come again, which the sync takes in its
        stride).
        """
        window_start = since
        after = "0"
        read_in_window = 0
        while True:
            page = await self._search_modified(window_start, after)
            contacts = self._contacts(page)
            yield contacts
            if page.after is None:
                return
            if page.after == after:
                raise UpstreamContractError(Source.CRM, "contact search repeated its cursor")
            read_in_window += len(contacts)
            if read_in_window + self._settings.page_size <= SEARCH_WINDOW:
                after = page.after
                continue
            if not contacts or contacts[-1].updated_at <= window_start:
                # A whole window modified in the same instant: there is no way forward.
                raise UpstreamContractError(Source.CRM, "contact search window did not advance")
            window_start, after, read_in_window = contacts[-1].updated_at, "0", 0

    async def update_contact(
        self, contact_id: CrmContactId, properties: Mapping[str, str | None]
    ) -> None:
        """``PATCH /crm/v3/objects/contacts/{id}`` with the properties given (null clears)."""
        await self._http.request_json(
            "PATCH",
            f"/crm/v3/objects/contacts/{self._http.segment(contact_id)}",
            json={"properties": dict(properties)},
        )

    async def create_note(self, contact_id: CrmContactId, body: str, at: datetime) -> str:
        """A note on the contact: HubSpot's notes object with its note-to-contact
        association (type 202), in one ``POST /crm/v3/objects/notes``; the new note's id.

        Never repeated by the policy (a POST): a second call would be a second note.
        """
        payload = {
            "properties": {
                "hs_note_body": body,
                "hs_timestamp": at.isoformat().replace("+00:00", "Z"),
            },
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": NOTE_TO_CONTACT,
                        }
                    ],
                }
            ],
        }
        created = await self._http.request_model(
            _HubSpotObject, "POST", "/crm/v3/objects/notes", resource="note", json=payload
        )
        return created.id

    async def _search_modified(self, since: datetime, after: str) -> _HubSpotPage:
        since_filter = {
            "propertyName": "lastmodifieddate",
            "operator": "GTE",
            # HubSpot compares dates as epoch milliseconds.
            "value": str(int(since.timestamp() * 1000)),
        }
        body = {
            "filterGroups": [{"filters": [since_filter]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": self._properties,
            "limit": self._settings.page_size,
            "after": after,
        }
        return await self._http.request_model(
            _HubSpotPage,
            "POST",
            "/crm/v3/objects/contacts/search",
            resource="contact search result",
            json=body,
            # A search only reads: repeating it is as safe as repeating a GET.
            idempotent=True,
        )

    async def _batch_read(self, ids: list[CrmContactId]) -> list[CrmContact]:
        page = await self._http.request_model(
            _HubSpotPage,
            "POST",
            "/crm/v3/objects/contacts/batch/read",
            resource="contact batch",
            json={"properties": self._properties, "inputs": [{"id": i} for i in ids]},
            # A batch read only reads: repeating it is as safe as repeating a GET.
            idempotent=True,
        )
        return self._contacts(page)

    def _contacts(self, page: _HubSpotPage) -> list[CrmContact]:
        fetched_at = self._clock()
        return [self._to_contact(wire, fetched_at) for wire in page.results]

    def _to_contact(self, wire: _HubSpotContact, fetched_at: datetime) -> CrmContact:
        props = wire.properties
        billing_id = text(props.get(self._settings.billing_id_property))
        return CrmContact(
            id=CrmContactId(wire.id),
            first_name=text(props.get("firstname")),
            last_name=text(props.get("lastname")),
            email=text(props.get("email")),
            phone=text(props.get("phone")),
            address=address_or_none(
                line1=props.get("address"),
                city=props.get("city"),
                region=props.get("state"),
                postal_code=props.get("zip"),
                country=props.get("country"),
            ),
            billing_customer_id=BillingCustomerId(billing_id) if billing_id else None,
            date_of_birth=_date_or_none(props.get("date_of_birth")),
            created_at=wire.created_at,
            updated_at=wire.updated_at,
            fetched_at=fetched_at,
        )
