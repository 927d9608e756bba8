"""The masks, one by one, and the access decision for each role and interaction."""

from __future__ import annotations

import pytest

from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.client_errors import BadUserInput
from kernel.disclosure import Access, Treatment
from kernel.identity import CustomerId
from resolvers.context import RequestContext, Sources, new_context
from resolvers.extensions.masking import (
    HIDDEN,
    Mask,
    decide_access,
    mask_card_last4,
    mask_email,
    mask_name,
    mask_phone,
    redact_free_text,
    stated_purpose,
    withhold,
)
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import named_store

ADA = CustomerId("ada")
GRACE = CustomerId("grace")

# --- email -----------------------------------------------------------------------------------


def test_an_email_keeps_its_first_letter_and_domain() -> None:
    assert mask_email("ada.lovelace@example.com") == "a***@example.com"


@pytest.mark.parametrize("local", ["a", "ab"])
def test_a_short_local_part_shows_no_letter(local: str) -> None:
    assert mask_email(f"{local}@example.com") == "***@example.com"


def test_a_unicode_email_keeps_one_character_of_its_local_part() -> None:
    assert mask_email("ünïcødé@exämple.de") == "ü***@exämple.de"


@pytest.mark.parametrize("value", ["not an email", "@example.com", "ada@", ""])
def test_something_that_is_not_an_email_is_hidden_whole(value: str) -> None:
    assert mask_email(value) == HIDDEN


def test_an_email_with_two_at_signs_keeps_only_the_last_domain() -> None:
    masked = mask_email('"ada@home"@example.com')
    assert masked == '"***@example.com'
    assert "home" not in masked


# --- phone -----------------------------------------------------------------------------------


def test_a_phone_keeps_its_country_code_and_last_three_digits() -> None:
    assert mask_phone("+44 20 7946 0018", "US") == "+44*******018"


def test_a_national_phone_gets_the_default_regions_country_code() -> None:
    assert mask_phone("(415) 555-0101", "US") == "+1*******101"


def test_a_phone_with_an_extension_loses_the_extension() -> None:
    assert mask_phone("+1 415 555 0101 ext. 1234", "US") == "+1*******101"


def test_a_short_number_shows_no_digits() -> None:
    masked = mask_phone("+44 123", "US")
    assert masked.startswith("+44")
    assert not any(ch.isdigit() for ch in masked[3:])


def test_a_phone_that_does_not_parse_keeps_only_its_last_three_digits() -> None:
    assert mask_phone("call 0118 999 881 999", "") == "*" * 10 + "999"


def test_garbage_with_few_digits_shows_none() -> None:
    assert mask_phone("ext 12", "") == HIDDEN


# --- names -----------------------------------------------------------------------------------


def test_a_name_keeps_the_first_name_and_initials() -> None:
    assert mask_name("Ada King Lovelace") == "Ada K. L."


def test_a_one_word_name_keeps_its_first_letter() -> None:
    assert mask_name("Cher") == "C***"


def test_a_unicode_name_is_masked_by_characters() -> None:
    assert mask_name("Émilie du Châtelet") == "Émilie d. C."


def test_an_empty_name_stays_empty() -> None:
    assert mask_name("   ") == ""


# --- cards, withheld values, free text -------------------------------------------------------


def test_a_card_shows_its_last_four_digits_only() -> None:
    assert mask_card_last4("4242") == "4242"


def test_a_full_card_number_handed_in_by_mistake_is_cut_to_four() -> None:
    assert mask_card_last4("4111 1111 1111 1234") == "1234"


def test_street_lines_postcodes_and_expiry_are_withheld() -> None:
    mask: Mask = withhold
    assert mask("12 St James's Square", "GB") is None
    assert mask(12, "GB") is None


def test_free_text_hides_card_numbers_and_phones() -> None:
    text = "Charged twice on 4111-1111-1111-1111, call me on +44 20 7946 0018 please"
    assert redact_free_text(text) == f"Charged twice on {HIDDEN}, call me on {HIDDEN} please"


def test_free_text_masks_emails() -> None:
    assert redact_free_text("reply to ada.lovelace@example.com") == "reply to a***@example.com"


def test_free_text_keeps_short_numbers() -> None:
    assert redact_free_text("Invoice 42 of 2024 is wrong") == "Invoice 42 of 2024 is wrong"


# --- purpose ---------------------------------------------------------------------------------


def test_a_purpose_is_trimmed() -> None:
    assert stated_purpose("  complaint 77 review ") == "complaint 77 review"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_purpose_is_none(raw: str | None) -> None:
    assert stated_purpose(raw) is None


@pytest.mark.parametrize("raw", ["x" * 201, "line\nbreak", "bell\x07"])
def test_a_purpose_too_long_or_not_printable_is_refused(raw: str) -> None:
    with pytest.raises(BadUserInput, match="X-Purpose must be at most 200 printable"):
        stated_purpose(raw)


# --- who sees what ---------------------------------------------------------------------------


def context(
    role: str,
    *,
    subject: str = "someone",
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
) -> RequestContext:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)
    return new_context(
        Principal(subject=subject, role=role),
        named_store(),
        sources,
        "US",
        interaction=interaction,
        purpose=purpose,
    )


def interaction_for(
    customer: CustomerId, agent: str = "agent-1", level: VerificationLevel = VerificationLevel.HIGH
) -> ActiveInteraction:
    return ActiveInteraction(
        interaction_id="int-1",
        contact_id="contact-1",
        customer_id=customer,
        agent=agent,
        level=level,
    )


def test_an_agent_without_an_interaction_gets_masked_values() -> None:
    assert decide_access(context("agent"), ADA) == Access(Treatment.MASKED, redacts_free_text=True)


def test_an_agent_within_an_interaction_gets_that_customer_up_to_its_level() -> None:
    ctx = context(
        "agent", subject="agent-1", interaction=interaction_for(ADA, level=VerificationLevel.LOW)
    )
    assert decide_access(ctx, ADA) == Access(Treatment.UNMASKED, VerificationLevel.LOW)


def test_an_agent_within_an_interaction_gets_other_customers_masked() -> None:
    ctx = context("agent", subject="agent-1", interaction=interaction_for(ADA))
    assert decide_access(ctx, GRACE) == Access(Treatment.MASKED, redacts_free_text=True)


def test_an_interaction_of_another_agent_unlocks_nothing() -> None:
    ctx = context("agent", subject="agent-2", interaction=interaction_for(ADA, agent="agent-1"))
    assert decide_access(ctx, ADA) == Access(Treatment.MASKED, redacts_free_text=True)


def test_an_analyst_gets_masked_values_even_with_a_purpose() -> None:
    assert decide_access(context("analyst", purpose="research"), ADA) == Access(Treatment.MASKED)


def test_a_supervisor_without_a_purpose_gets_masked_values() -> None:
    assert decide_access(context("supervisor"), ADA) == Access(
        Treatment.MASKED, redacts_free_text=True
    )


def test_a_supervisor_with_a_purpose_gets_values_as_they_are() -> None:
    ctx = context("supervisor", purpose="complaint review")
    assert decide_access(ctx, ADA) == Access(Treatment.UNMASKED, VerificationLevel.HIGH)


@pytest.mark.parametrize("role", ["ivr", "somebody-new"])
def test_machine_and_unknown_roles_get_no_personal_data(role: str) -> None:
    assert decide_access(context(role, purpose="why not"), ADA) == Access(Treatment.DENIED)


@pytest.mark.parametrize("value", ["*@example.com", "a***@example.com"])
def test_an_email_that_looks_masked_already_is_hidden_whole(value: str) -> None:
    assert mask_email(value) == HIDDEN
