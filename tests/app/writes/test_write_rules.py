"""Who may write what, and the input each write takes: refusals name their reason."""

from __future__ import annotations

import pytest

from app.writes.access import authorize
from app.writes.settings import WritesSettings
from app.writes.validation import checked_values
from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.client_errors import Forbidden, VerificationRequired
from kernel.identity import CustomerId
from kernel.writes import WriteActor, WriteFieldInvalid, WriteKind, WriteRequest

SETTINGS = WritesSettings()
ADA = CustomerId("cust-ada")


def _agent(
    level: VerificationLevel | None, customer: str = "cust-ada", role: str = "agent"
) -> WriteActor:
    interaction = (
        ActiveInteraction("i-1", "c-1", CustomerId(customer), "agent-1", level)
        if level is not None
        else None
    )
    return WriteActor(Principal("agent-1", role), interaction)


@pytest.mark.parametrize("role", ["analyst", "ivr", "auditor"])
def test_roles_that_take_no_calls_never_write(role: str) -> None:
    with pytest.raises(Forbidden):
        authorize(_agent(VerificationLevel.HIGH, role=role), WriteKind.CUSTOMER_NOTE, ADA, SETTINGS)


def test_an_agent_writes_only_within_the_customers_claimed_call() -> None:
    with pytest.raises(Forbidden):
        authorize(_agent(None), WriteKind.CUSTOMER_NOTE, ADA, SETTINGS)
    with pytest.raises(Forbidden):
        authorize(
            _agent(VerificationLevel.HIGH, "cust-other"), WriteKind.CUSTOMER_NOTE, ADA, SETTINGS
        )


def test_each_mutation_needs_its_configured_level() -> None:
    medium = _agent(VerificationLevel.MEDIUM)

    assert authorize(medium, WriteKind.CUSTOMER_NOTE, ADA, SETTINGS) == ADA
    with pytest.raises(VerificationRequired) as refused:
        authorize(medium, WriteKind.CONTACT_DETAILS, ADA, SETTINGS)
    assert refused.value.required_level == "HIGH"
    lenient = WritesSettings(contact_details_level="MEDIUM")
    assert authorize(medium, WriteKind.CONTACT_DETAILS, ADA, lenient) == ADA


def test_a_record_naming_write_is_for_the_calls_customer() -> None:
    assert (
        authorize(_agent(VerificationLevel.HIGH), WriteKind.TICKET_COMMENT, None, SETTINGS) == ADA
    )


def test_supervisors_write_without_the_call_only_what_is_configured() -> None:
    supervisor = WriteActor(Principal("sup-1", "supervisor"))

    assert authorize(supervisor, WriteKind.CUSTOMER_NOTE, ADA, SETTINGS) == ADA
    with pytest.raises(Forbidden):
        authorize(supervisor, WriteKind.SUBSCRIPTION_CANCEL, None, SETTINGS)
    with pytest.raises(Forbidden):
        authorize(
            supervisor, WriteKind.CUSTOMER_NOTE, ADA, WritesSettings(supervisor_writes=frozenset())
        )


def _checked(
    kind: WriteKind, key: str = "k-1", version: str | None = "v1", **values: object
) -> object:
    request = WriteRequest(kind, key, values, ADA, None, version)  # type: ignore[arg-type]
    return checked_values(request, SETTINGS, "GB")


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        (WriteKind.CUSTOMER_NOTE, {"body": ""}, "body"),
        (WriteKind.CUSTOMER_NOTE, {"body": "x" * 65_537}, "body"),
        (WriteKind.TICKET, {"subject": "", "body": "b"}, "input.subject"),
        (WriteKind.TICKET, {"subject": "s", "body": " "}, "input.body"),
        (WriteKind.CONTACT_DETAILS, {"email": "nobody@"}, "input.email"),
        (WriteKind.CONTACT_DETAILS, {"phone": "+44 12"}, "input.phone"),
        (WriteKind.CONTACT_DETAILS, {"city": "x" * 300}, "input.city"),
        (WriteKind.CONTACT_DETAILS, {}, "input"),
    ],
)
def test_bad_input_names_its_field(kind: WriteKind, values: dict[str, object], field: str) -> None:
    with pytest.raises(WriteFieldInvalid) as refused:
        _checked(kind, **values)
    assert refused.value.field == field


def test_an_idempotency_key_is_required_and_bounded() -> None:
    for key in ("", "   ", "k" * 300, "line\nbreak"):
        with pytest.raises(WriteFieldInvalid) as refused:
            _checked(WriteKind.CUSTOMER_NOTE, key=key, body="hello")
        assert refused.value.field == "idempotencyKey"


def test_contact_details_are_written_normalised() -> None:
    values, fields = _checked(  # type: ignore[misc]
        WriteKind.CONTACT_DETAILS, email=" Ada@Example.COM ", phone="020 7946 0018"
    )

    assert values == {"email": "Ada@example.com", "phone": "+442079460018"}
    assert fields == ("email", "phone")


def test_backoff_doubles_to_its_cap_and_honours_retry_after() -> None:
    settings = WritesSettings(backoff_base_seconds=1, backoff_max_seconds=10)

    assert [settings.backoff(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]
    assert settings.backoff(1, retry_after=30) == 30
