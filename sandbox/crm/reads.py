"""The CRM's read endpoints: contacts listed by id, fetched, searched and batch-read.

Lists are ordered by numeric id and paged by ``after``; search pages through at most
HubSpot's limit of results (``crm_search_order``), its bodies parsed by ``crm_bodies``.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.crm.bodies import MAX_BATCH, BatchReadBody, SearchBody, _parse
from sandbox.crm.search_order import MAX_SEARCH_RESULTS, SearchValueError, search_order
from sandbox.crm.shapes import _not_found, render_contact, validation_error
from sandbox.records import CrmContact, CrmStore
from sandbox.responses import JSON, JsonResponse, now_iso, query_int, read_json_object
from sandbox.table import page_after

# --- parameters -------------------------------------------------------------------------


def _requested_properties(request: Request) -> list[str] | None:
    """``properties=a,b`` (or repeated ``properties=``); None when not given."""
    raw = request.query_params.getlist("properties")
    names = [name.strip() for value in raw for name in value.split(",") if name.strip()]
    return names or None


def _archived(request: Request) -> bool:
    return request.query_params.get("archived", "false").lower() == "true"


# --- endpoints --------------------------------------------------------------------------


class CrmApi:
    """The CRM endpoints over one ``CrmStore``."""

    def __init__(self, store: CrmStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        """The vendor routes (search and batch before ``{id}``)."""
        base = "/crm/v3/objects/contacts"
        return [
            Route(base, self.list_contacts, methods=["GET"]),
            Route(f"{base}/search", self.search_contacts, methods=["POST"]),
            Route(f"{base}/batch/read", self.batch_read, methods=["POST"]),
            Route(f"{base}/{{id}}", self.get_contact, methods=["GET"]),
        ]

    async def list_contacts(self, request: Request) -> Response:
        """GET /crm/v3/objects/contacts: by numeric id, paged by ``after``."""
        limit = query_int(request, "limit", default=10, low=1, high=100, invalid=validation_error)
        after_token = request.query_params.get("after")
        after = None
        if after_token:
            if not after_token.isdigit():
                raise validation_error(f"Invalid after: {after_token}")
            after = (int(after_token), after_token)
        archived = _archived(request)
        table = self.store.contacts
        page = page_after(
            table.order(),
            after,
            limit,
            descending=False,
            keep=lambda key: table.rows[key[1]].archived == archived,
        )
        properties = _requested_properties(request)
        body: JSON = {
            "results": [render_contact(table.rows[key], properties) for _, key in page.keys]
        }
        if page.more_after:
            token = page.keys[-1][1]
            link = request.url.include_query_params(after=token)
            body["paging"] = {"next": {"after": token, "link": str(link)}}
        return JsonResponse(body)

    async def get_contact(self, request: Request) -> Response:
        """GET /crm/v3/objects/contacts/{id}."""
        contact_id = request.path_params["id"]
        id_property = request.query_params.get("idProperty")
        archived = _archived(request)
        contact = self._lookup(contact_id, id_property, archived)
        if contact is None:
            raise _not_found(contact_id)
        return JsonResponse(render_contact(contact, _requested_properties(request)))

    async def search_contacts(self, request: Request) -> Response:
        """POST /crm/v3/objects/contacts/search."""
        body = _parse(SearchBody, await read_json_object(request, validation_error))
        try:
            offset = int(body.after)
        except ValueError:
            raise validation_error(f"Invalid after: {body.after}") from None
        if offset < 0:
            raise validation_error(f"Invalid after: {body.after}")
        if offset + body.limit > MAX_SEARCH_RESULTS:
            # HubSpot's limit: a client reads further by restarting from the last value seen.
            raise validation_error(
                f"Search pages through at most {MAX_SEARCH_RESULTS} results: restart the search "
                "from the last value of the sort property"
            )
        try:
            order = search_order(body.sorts)
            matches = sorted(self._search(body), key=order)
        except SearchValueError as exc:
            raise validation_error(str(exc)) from None
        chunk = matches[offset : offset + body.limit]
        result: JSON = {
            "total": len(matches),
            "results": [render_contact(c, body.properties or None) for c in chunk],
        }
        if offset + body.limit < min(len(matches), MAX_SEARCH_RESULTS):
            result["paging"] = {"next": {"after": str(offset + body.limit)}}
        return JsonResponse(result)

    async def batch_read(self, request: Request) -> Response:
        """POST /crm/v3/objects/contacts/batch/read: 200, or 207 naming unknown ids."""
        started = now_iso()
        data = await read_json_object(request, validation_error)
        if isinstance(data.get("inputs"), list) and len(data["inputs"]) > MAX_BATCH:
            raise validation_error(f"Batch read accepts at most {MAX_BATCH} inputs")
        body = _parse(BatchReadBody, data)
        archived = _archived(request)
        properties = body.properties or None
        results: list[JSON] = []
        missing: list[str] = []
        seen: set[str] = set()
        for item in body.inputs:
            wanted = str(item.id)
            if wanted in seen:
                continue
            seen.add(wanted)
            contact = self._lookup(wanted, body.idProperty, archived)
            if contact is None:
                missing.append(wanted)
            else:
                results.append(render_contact(contact, properties))
        answer: JSON = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if not missing:
            return JsonResponse(answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
        return JsonResponse(answer, status_code=207)

    def _lookup(self, value: str, id_property: str | None, archived: bool) -> CrmContact | None:
        contacts = self.store.contacts
        if id_property in (None, "hs_object_id"):
            contact = contacts.get(value)
            return contact if contact is not None and contact.archived == archived else None
        if id_property == "email":
            found = [c for c in contacts.find("email", value.lower()) if c.archived == archived]
            return min(found, key=lambda c: int(c.id), default=None)
        raise validation_error(f"Unsupported idProperty: {id_property}")

    def _search(self, body: SearchBody) -> Iterable[CrmContact]:
        groups = body.filterGroups
        pool: Iterable[CrmContact]
        candidates = [group.indexed(self.store) for group in groups]
        if groups and all(rows is not None for rows in candidates):
            pool = {c.id: c for rows in candidates for c in rows or ()}.values()
        else:
            pool = self.store.contacts
        text = (body.query or "").strip().lower()
        for contact in pool:
            if contact.archived:
                continue
            if groups and not any(group.matches(contact) for group in groups):
                continue
            if text and not _contains_text(contact, text):
                continue
            yield contact


def _contains_text(contact: CrmContact, text: str) -> bool:
    return any(
        text in (contact.properties.get(name) or "").lower()
        for name in ("firstname", "lastname", "email", "phone")
    )
