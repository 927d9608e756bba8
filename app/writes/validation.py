"""A mutation's input checked before anything is written: each refusal names its field.

Emails are checked by ``email-validator`` (the library pydantic's ``EmailStr`` uses), phones
by ``phonenumbers`` (valid for their region, written E.164); text is trimmed and bounded.
"""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.writes.settings import WritesSettings
from kernel.writes import WriteFieldInvalid, WriteKind, WriteRequest

#: ``ContactDetailsInput``'s address fields, by their GraphQL names.
ADDRESS_FIELDS = {
    "line1": "line1",
    "city": "city",
    "region": "region",
    "postal_code": "postalCode",
    "country": "country",
}
#: Zendesk's priorities, as ``TicketInput.priority`` gives them.
PRIORITIES = frozenset({"low", "normal", "high", "urgent"})


def checked_values(
    request: WriteRequest, settings: WritesSettings, default_region: str
) -> tuple[dict[str, str | bool | None], tuple[str, ...]]:
    """The input as it will be written, and the names of the fields it writes (for the
    audit); ``WriteFieldInvalid`` naming the first field at fault."""
    key = request.idempotency_key
    if not key.strip() or len(key) > settings.max_key_chars or not key.isprintable():
        raise WriteFieldInvalid(
            "idempotencyKey", f"must be 1 to {settings.max_key_chars} printable characters"
        )
    values = request.values
    kind = request.kind
    if kind in (WriteKind.CUSTOMER_NOTE, WriteKind.TICKET_COMMENT):
        body = _text(values.get("body"), "body", settings.max_body_chars)
        if kind is WriteKind.CUSTOMER_NOTE:
            return {"body": body}, ("body",)
        return {"body": body, "public": values.get("public") is True}, ("body", "public")
    if kind is WriteKind.TICKET:
        subject = _text(values.get("subject"), "input.subject", settings.max_subject_chars)
        body = _text(values.get("body"), "input.body", settings.max_body_chars)
        priority = values.get("priority")
        if priority is not None and priority not in PRIORITIES:
            raise WriteFieldInvalid("input.priority", "is not a priority")
        return {"subject": subject, "body": body, "priority": priority}, (
            "subject",
            "body",
            "priority",
        )
    if kind is WriteKind.CONTACT_DETAILS:
        return _contact_details(request, settings, default_region)
    return {}, ()


def _contact_details(
    request: WriteRequest, settings: WritesSettings, default_region: str
) -> tuple[dict[str, str | bool | None], tuple[str, ...]]:
    if not (request.expected_version or "").strip():
        raise WriteFieldInvalid("expectedVersion", "must be the version the profile showed")
    values = request.values
    checked: dict[str, str | bool | None] = {}
    email = values.get("email")
    if isinstance(email, str):
        try:
            checked["email"] = validate_email(email.strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            raise WriteFieldInvalid("input.email", "is not an email address") from None
    phone = values.get("phone")
    if isinstance(phone, str):
        checked["phone"] = _phone(phone, default_region)
    for name, graphql_name in ADDRESS_FIELDS.items():
        value = values.get(name)
        if isinstance(value, str):
            checked[name] = _text(value, f"input.{graphql_name}", settings.max_field_chars)
    if not checked:
        raise WriteFieldInvalid("input", "give at least one of email, phone and the address")
    return checked, tuple(checked)


def _phone(raw: str, default_region: str) -> str:
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise WriteFieldInvalid("input.phone", "is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise WriteFieldInvalid("input.phone", "is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WriteFieldInvalid(field, "must not be empty")
    text = value.strip()
    if len(text) > limit:
        raise WriteFieldInvalid(field, f"is too long (at most {limit} characters)")
    return text
