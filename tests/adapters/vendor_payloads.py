"""Builders of vendor-shaped JSON, as sandbox/README.md specifies it (after the real APIs).

Each builder returns a realistic record for a named customer; keyword arguments replace
fields, so a test spells out only what it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

JAN_2024 = 1_704_067_200  # 2024-01-01T00:00:00Z in Unix seconds

# --- Billing (Stripe) ---------------------------------------------------------------------


def stripe_customer(id: str = "cus_ada", **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "customer",
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.com",
        "phone": "+442079460018",
        "address": {
            "line1": "12 St James's Square",
            "line2": None,
            "city": "London",
            "state": None,
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        },
        "balance": 0,
        "currency": "gbp",
        "delinquent": False,
        "created": JAN_2024,
        "metadata": {},
    } | fields


def stripe_price(unit_amount: int = 1500, currency: str = "gbp", **fields: Any) -> dict[str, Any]:
    return {
        "id": "price_pro",
        "nickname": "Pro",
        "unit_amount": unit_amount,
        "currency": currency,
        "recurring": {"interval": "month"},
    } | fields


def stripe_subscription(
    id: str = "sub_ada", *, price: dict[str, Any] | None = None, quantity: int = 1, **fields: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "subscription",
        "customer": "cus_ada",
        "status": "active",
        "cancel_at_period_end": False,
        "current_period_end": JAN_2024 + 31 * 86_400,
        "created": JAN_2024,
        "currency": "gbp",
        "items": {
            "object": "list",
            "has_more": False,
            "data": [{"id": f"si_{id}", "quantity": quantity, "price": price or stripe_price()}],
        },
    } | fields


def stripe_invoice(id: str = "in_ada_0001", **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "invoice",
        "customer": "cus_ada",
        "number": "ADA-0001",
        "status": "paid",
        "currency": "gbp",
        "amount_due": 1500,
        "amount_paid": 1500,
        "amount_remaining": 0,
        "created": JAN_2024,
        "due_date": None,
        "status_transitions": {"paid_at": JAN_2024 + 3600},
        "subscription": "sub_ada",
    } | fields


def stripe_card(id: str = "pm_ada_visa", **card: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "payment_method",
        "type": "card",
        "customer": "cus_ada",
        "created": JAN_2024,
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030} | card,
    }


def stripe_list(data: Sequence[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    return {"object": "list", "url": "/v1/things", "has_more": has_more, "data": list(data)}


def stripe_search_result(
    data: Sequence[dict[str, Any]], *, next_page: str | None = None
) -> dict[str, Any]:
    return {
        "object": "search_result",
        "url": "/v1/customers/search",
        "has_more": next_page is not None,
        "next_page": next_page,
        "data": list(data),
    }


def stripe_error(type: str, code: str | None = None, message: str = "") -> dict[str, Any]:
    return {"error": {"type": type, "code": code, "message": message, "param": None}}


# --- CRM (HubSpot CRM v3) -----------------------------------------------------------------


def hubspot_contact(id: str = "1001", **properties: str | None) -> dict[str, Any]:
    return {
        "id": id,
        "properties": {
            "firstname": "Ada",
            "lastname": "Lovelace",
            "email": "ada.lovelace@example.com",
            "phone": "+44 20 7946 0018",
            "address": "12 St James's Square",
            "city": "London",
            "state": "Greater London",
            "zip": "SW1Y 4JH",
            "country": "United Kingdom",
            "billing_customer_id": "cus_ada",
            "createdate": "2024-01-01T00:00:00Z",
            "lastmodifieddate": "2024-03-01T09:30:00Z",
            "hs_object_id": id,
        }
        | properties,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-03-01T09:30:00Z",
        "archived": False,
    }


def hubspot_page(results: Sequence[dict[str, Any]], *, after: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"results": list(results)}
    if after is not None:
        page["paging"] = {"next": {"after": after, "link": f"https://crm.test/?after={after}"}}
    return page


def hubspot_batch(
    results: Sequence[dict[str, Any]], *, missing: Sequence[str] = ()
) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "status": "COMPLETE",
        "results": list(results),
        "startedAt": "2024-06-01T12:00:00Z",
        "completedAt": "2024-06-01T12:00:00Z",
    }
    if missing:
        batch["numErrors"] = len(missing)
        batch["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": list(missing)},
            }
        ]
    return batch


def hubspot_error(category: str, message: str = "") -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
    }


# --- Support (Zendesk) --------------------------------------------------------------------


def zendesk_user(id: int = 9001, **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "url": f"https://support.test/api/v2/users/{id}.json",
        "name": "Ada Lovelace",
        "email": "ada.lovelace@example.com",
        "phone": "+442079460018",
        "external_id": "1001",
        "role": "end-user",
        "active": True,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-03-01T09:30:00Z",
    } | fields


def zendesk_ticket(id: int = 70001, **fields: Any) -> dict[str, Any]:
    return {
        "id": id,
        "url": f"https://support.test/api/v2/tickets/{id}.json",
        "subject": "Invoice question",
        "description": "Why was I charged twice?",
        "status": "open",
        "priority": "normal",
        "type": "question",
        "requester_id": 9001,
        "created_at": "2024-03-01T09:30:00Z",
        "updated_at": "2024-03-02T10:00:00Z",
    } | fields


def zendesk_cursor_page(
    key: str, records: Sequence[dict[str, Any]], *, after_cursor: str | None = None
) -> dict[str, Any]:
    return {
        key: list(records),
        "meta": {
            "has_more": after_cursor is not None,
            "after_cursor": after_cursor,
            "before_cursor": None,
        },
        "links": {"next": None, "prev": None},
    }


def zendesk_search_result(users: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"users": list(users), "next_page": None, "previous_page": None, "count": len(users)}


# --- IVR (Amazon Connect) -----------------------------------------------------------------


def connect_attributes(**attributes: str) -> dict[str, Any]:
    return {
        "Attributes": {
            "CallerNumber": "+442079460018",
            "CustomerRefType": "PHONE",
            "CustomerRefValue": "+442079460018",
            "AuthMethod": "PIN",
            "AuthResult": "AUTHENTICATED",
            "AuthScore": "0.97",
        }
        | attributes
    }


def connect_summary(
    id: str = "contact-ada-0001",
    at: str = "2024-06-01T11:00:00Z",
    caller: str | None = "+442079460018",
) -> dict[str, Any]:
    return {
        "Id": id,
        "InitiationTimestamp": at,
        "Channel": "VOICE",
        "CustomerEndpoint": {"Address": caller, "Type": "TELEPHONE_NUMBER"},
    }


def connect_page(
    summaries: Sequence[dict[str, Any]], *, next_token: str | None = None
) -> dict[str, Any]:
    return {"ContactSummaryList": list(summaries), "NextToken": next_token}
