"""The interaction service over a real PostgreSQL: handoff, replay, claim, transfer, knowledge
checks and expiry, each refused or allowed exactly as the rules say."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from app.interactions.settings import InteractionSettings
from app.interactions.tokens import InteractionTokenError
from app.store.customers import Store
from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from kernel.interactions import (
    InteractionRefused,
    InteractionState,
    KnowledgeAnswers,
)
from kernel.linking import LiveAnswer
from kernel.models import Source
from resolvers.context import Sources
from tests.app.handoff_kit import (
    ADA_BORN,
    ADA_POSTCODE,
    AGENT_1,
    AGENT_2,
    INTERACTIONS,
    IVR,
    SUPERVISOR,
    Kit,
    build_kit,
)
from tests.app.handoff_kit import handoff_claims as _claims


async def refusal(call: object) -> InteractionRefused:
    with pytest.raises(InteractionRefused) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def claimed(kit: Kit, contact_id: str = "c-1", **overrides: object) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff(contact_id, **overrides))
    await kit.service.claim(AGENT_1, contact_id)


# --- handoff --------------------------------------------------------------------------------


async def test_handoff_opens_a_waiting_interaction_for_ada(kit: Kit) -> None:
    view = await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    assert view.state is InteractionState.WAITING
    assert view.level is VerificationLevel.MEDIUM
    assert view.verified_by == "IVR"
    ada = await kit.store.find_by_phone("+442079460018")
    assert view.customer_id == ada[0]


async def test_handoff_is_recorded_in_history_and_audit(kit: Kit) -> None:
    view = await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    history = await kit.store.interaction_history(view.interaction_id)
    assert [event.kind for event in history] == ["HANDOFF"]
    assert [(e.kind, e.outcome) for e in kit.audit.entries] == [("HANDOFF", "accepted")]


async def test_replayed_handoff_is_refused(kit: Kit) -> None:
    token = kit.handoff("c-1")
    await kit.service.submit_handoff(IVR, token)

    error = await refusal(kit.service.submit_handoff(IVR, token))
    assert (error.code, error.status) == ("HANDOFF_REPLAYED", 409)


async def test_two_concurrent_submissions_of_one_handoff_open_one_interaction(kit: Kit) -> None:
    token = kit.handoff("c-1")

    results = await asyncio.gather(
        *(kit.service.submit_handoff(IVR, token) for _ in range(2)), return_exceptions=True
    )

    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InteractionRefused)]
    assert len(accepted) == 1
    assert [r.code for r in refused] == ["HANDOFF_REPLAYED"]


async def test_second_handoff_of_one_contact_is_refused(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    error = await refusal(kit.service.submit_handoff(IVR, kit.handoff("c-1")))
    assert error.code == "CONTACT_ALREADY_HANDED_OFF"


async def test_handoff_whose_customer_disagrees_with_the_ivr_platform_is_refused(
    kit: Kit,
) -> None:
    kit.add_contact("c-1", ref_value="+14155550101")
    token = kit.key.sign(_claims("c-1"))

    error = await refusal(kit.service.submit_handoff(IVR, token))
    assert (error.code, error.status) == ("HANDOFF_DISAGREES_WITH_IVR", 403)
    assert "customer reference" in error.message
    assert await kit.store.get_interaction("c-1") is None


async def test_handoff_whose_result_disagrees_with_the_ivr_platform_is_refused(kit: Kit) -> None:
    kit.add_contact("c-1", auth_result="NOT_AUTHENTICATED")
    token = kit.key.sign(_claims("c-1"))

    error = await refusal(kit.service.submit_handoff(IVR, token))
    assert error.code == "HANDOFF_DISAGREES_WITH_IVR"
    assert "auth result" in error.message


async def test_refused_handoff_can_still_be_refused_again_for_its_own_reason(kit: Kit) -> None:
    kit.add_contact("c-1", auth_result="NOT_AUTHENTICATED")
    token = kit.key.sign(_claims("c-1"))
    await refusal(kit.service.submit_handoff(IVR, token))

    error = await refusal(kit.service.submit_handoff(IVR, token))
    assert error.code == "HANDOFF_DISAGREES_WITH_IVR"


async def test_handoff_of_a_contact_the_ivr_platform_does_not_know_is_refused(kit: Kit) -> None:
    error = await refusal(kit.service.submit_handoff(IVR, kit.key.sign(_claims("nope"))))

    assert error.code == "HANDOFF_CONTACT_UNKNOWN"


async def test_handoff_for_an_unknown_customer_is_refused(kit: Kit) -> None:
    ref = {"type": "ACCOUNT", "value": "cus_nobody"}
    kit.add_contact("c-1", ref_type="ACCOUNT", ref_value="cus_nobody")

    error = await refusal(kit.service.submit_handoff(IVR, kit.handoff("c-1", customer_ref=ref)))
    assert (error.code, error.status) == ("HANDOFF_CUSTOMER_UNKNOWN", 400)


class ScriptedLinker:
    """A live linker that answers what it is told to, and counts what it was asked."""

    def __init__(self, answer: LiveAnswer) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    async def by_phone(self, e164: str, sources: Sources) -> LiveAnswer:
        self.asked.append(("phone", e164))
        return self.answer

    async def by_email(self, email: str, sources: Sources) -> LiveAnswer:
        self.asked.append(("email", email))
        return self.answer

    async def by_source_id(self, source: Source, external_id: str, sources: Sources) -> LiveAnswer:
        self.asked.append((source.value, external_id))
        return self.answer


async def test_handoff_for_a_customer_the_store_lacks_asks_the_live_linker(store: Store) -> None:
    linker = ScriptedLinker(LiveAnswer())
    kit = await build_kit(store, live_linker=linker)
    linker.answer = LiveAnswer(customer_ids=(await _ada(store),))
    ref = {"type": "ACCOUNT", "value": "cus_new"}
    kit.add_contact("c-1", ref_type="ACCOUNT", ref_value="cus_new")

    view = await kit.service.submit_handoff(IVR, kit.key.sign(_claims("c-1", customer_ref=ref)))

    assert linker.asked == [("BILLING", "cus_new")]
    assert view.state is InteractionState.WAITING


async def test_handoff_is_retryable_when_a_system_failed_the_live_lookup(store: Store) -> None:
    linker = ScriptedLinker(LiveAnswer(failed_sources=(Source.CRM,)))
    kit = await build_kit(store, live_linker=linker)
    ref = {"type": "ACCOUNT", "value": "cus_new"}
    kit.add_contact("c-1", ref_type="ACCOUNT", ref_value="cus_new")
    token = kit.key.sign(_claims("c-1", customer_ref=ref))

    error = await refusal(kit.service.submit_handoff(IVR, token))
    assert (error.code, error.status) == ("UPSTREAM_UNAVAILABLE", 503)
    # Nothing was recorded: once the system answers, the same handoff goes through.
    linker.answer = LiveAnswer(customer_ids=(await _ada(store),))
    view = await kit.service.submit_handoff(IVR, token)
    assert view.state is InteractionState.WAITING


async def _ada(store: Store) -> CustomerId:
    found = await store.find_by_source_id(Source.BILLING, "cus_ada")
    assert found is not None
    return found


async def test_handoff_by_account_reference_resolves_through_billing(kit: Kit) -> None:
    ref = {"type": "ACCOUNT", "value": "cus_ada"}
    kit.add_contact("c-1", ref_type="ACCOUNT", ref_value="cus_ada")
    token = kit.key.sign(_claims("c-1", customer_ref=ref))

    view = await kit.service.submit_handoff(IVR, token)
    assert view.customer_id == (await kit.store.find_by_phone("+442079460018"))[0]


async def test_handoff_from_a_non_ivr_principal_is_refused(kit: Kit) -> None:
    error = await refusal(kit.service.submit_handoff(AGENT_1, kit.handoff("c-1")))

    assert (error.code, error.status) == ("FORBIDDEN", 403)


async def test_inconclusive_handoff_opens_an_unverified_interaction(kit: Kit) -> None:
    kit.add_contact("c-1", auth_result="INCONCLUSIVE")
    token = kit.key.sign(_claims("c-1", auth_result="INCONCLUSIVE"))

    view = await kit.service.submit_handoff(IVR, token)
    assert view.level is VerificationLevel.NONE


# --- claim and transfer ---------------------------------------------------------------------


async def test_claim_binds_the_interaction_and_grants_a_token(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    grant = await kit.service.claim(AGENT_1, "c-1")

    assert grant.interaction.state is InteractionState.ACTIVE
    assert grant.interaction.agent == "agent-1"
    claims = kit.tokens.verify(grant.token)
    assert (claims.agent, claims.level) == ("agent-1", VerificationLevel.MEDIUM)


async def test_claim_by_a_second_agent_is_refused(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(kit.service.claim(AGENT_2, "c-1"))
    assert (error.code, error.status) == ("INTERACTION_HELD_BY_ANOTHER_AGENT", 403)


async def test_two_agents_racing_to_claim_leave_one_holder(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    results = await asyncio.gather(
        kit.service.claim(AGENT_1, "c-1"), kit.service.claim(AGENT_2, "c-1"),
        return_exceptions=True,
    )  # fmt: skip

    assert sum(not isinstance(r, BaseException) for r in results) == 1


async def test_claim_of_an_unknown_contact_is_refused(kit: Kit) -> None:
    error = await refusal(kit.service.claim(AGENT_1, "nope"))

    assert (error.code, error.status) == ("INTERACTION_NOT_FOUND", 404)


async def test_transfer_keeps_the_verification(kit: Kit) -> None:
    await claimed(kit)

    moved = await kit.service.transfer(AGENT_1, "c-1", "agent-2")

    assert moved.agent == "agent-2"
    assert (moved.level, moved.method, moved.verified_by) == (
        VerificationLevel.MEDIUM,
        "PIN",
        "IVR",
    )


async def test_after_a_transfer_the_second_agent_can_claim_and_use_it(kit: Kit) -> None:
    await claimed(kit)
    await kit.service.transfer(AGENT_1, "c-1", "agent-2")

    grant = await kit.service.claim(AGENT_2, "c-1")
    active = await kit.service.authorise(grant.token, AGENT_2.principal)

    assert (active.agent, active.level) == ("agent-2", VerificationLevel.MEDIUM)


async def test_after_a_transfer_the_first_agent_can_no_longer_use_its_token(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))
    first = await kit.service.claim(AGENT_1, "c-1")
    await kit.service.transfer(AGENT_1, "c-1", "agent-2")

    with pytest.raises(InteractionTokenError, match="no longer held"):
        await kit.service.authorise(first.token, AGENT_1.principal)


async def test_only_the_holder_may_transfer(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(kit.service.transfer(AGENT_2, "c-1", "agent-3"))
    assert error.code == "INTERACTION_HELD_BY_ANOTHER_AGENT"


async def test_a_supervisor_may_transfer_any_call(kit: Kit) -> None:
    await claimed(kit)

    moved = await kit.service.transfer(SUPERVISOR, "c-1", "agent-2")
    assert moved.agent == "agent-2"


async def test_interaction_token_with_another_agents_bearer_is_refused(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))
    grant = await kit.service.claim(AGENT_1, "c-1")

    with pytest.raises(InteractionTokenError, match="another agent"):
        await kit.service.authorise(grant.token, AGENT_2.principal)


async def test_ended_interaction_cannot_be_used_and_keeps_its_history(kit: Kit) -> None:
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))
    grant = await kit.service.claim(AGENT_1, "c-1")
    ended = await kit.service.end(AGENT_1, "c-1")

    assert ended.state is InteractionState.ENDED
    with pytest.raises(InteractionTokenError):
        await kit.service.authorise(grant.token, AGENT_1.principal)
    history = await kit.store.interaction_history(ended.interaction_id)
    assert [e.kind for e in history] == ["HANDOFF", "CLAIM", "END"]


# --- knowledge checks -----------------------------------------------------------------------


async def test_right_answers_verify_the_caller(kit: Kit) -> None:
    kit.add_contact("c-1", auth_result="NOT_AUTHENTICATED")
    await kit.service.submit_handoff(
        IVR, kit.key.sign(_claims("c-1", auth_result="NOT_AUTHENTICATED"))
    )
    await kit.service.claim(AGENT_1, "c-1")

    view = await kit.service.verify_caller(
        AGENT_1, "c-1", KnowledgeAnswers(postcode="sw1y4jh", date_of_birth=ADA_BORN)
    )

    assert (view.level, view.method, view.verified_by) == (
        VerificationLevel.MEDIUM,
        "KBA",
        "agent-1",
    )


async def test_wrong_answers_are_refused_and_counted(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(
        kit.service.verify_caller(
            AGENT_1, "c-1", KnowledgeAnswers(postcode="EC1A 1BB", date_of_birth=ADA_BORN)
        )
    )

    assert error.code == "VERIFICATION_FAILED"
    assert "2 attempt(s) left" in error.message
    assert ADA_POSTCODE not in error.message
    row = await kit.store.get_interaction("c-1")
    assert row is not None
    assert row.kba_attempts == 1


async def test_attempts_run_out(kit: Kit) -> None:
    await claimed(kit)
    wrong = KnowledgeAnswers(postcode="EC1A 1BB", date_of_birth=ADA_BORN)
    for _ in range(INTERACTIONS.kba_max_attempts):
        await refusal(kit.service.verify_caller(AGENT_1, "c-1", wrong))

    error = await refusal(
        kit.service.verify_caller(
            AGENT_1, "c-1", KnowledgeAnswers(postcode=ADA_POSTCODE, date_of_birth=ADA_BORN)
        )
    )
    assert (error.code, error.status) == ("VERIFICATION_ATTEMPTS_EXHAUSTED", 429)


async def test_only_the_holder_may_verify_the_caller(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(
        kit.service.verify_caller(
            AGENT_2, "c-1", KnowledgeAnswers(postcode=ADA_POSTCODE, date_of_birth=ADA_BORN)
        )
    )
    assert error.code == "INTERACTION_HELD_BY_ANOTHER_AGENT"


async def test_knowledge_check_needs_the_postcode(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(kit.service.verify_caller(AGENT_1, "c-1", KnowledgeAnswers()))
    assert error.code == "ANSWERS_INCOMPLETE"


async def test_a_wrong_date_of_birth_fails_even_with_the_right_postcode(kit: Kit) -> None:
    await claimed(kit)
    answers = KnowledgeAnswers(postcode=ADA_POSTCODE, date_of_birth=date(1815, 12, 11))

    error = await refusal(kit.service.verify_caller(AGENT_1, "c-1", answers))
    assert error.code == "VERIFICATION_FAILED"


async def test_date_of_birth_is_required_when_the_records_hold_one(kit: Kit) -> None:
    await claimed(kit)

    error = await refusal(
        kit.service.verify_caller(AGENT_1, "c-1", KnowledgeAnswers(postcode=ADA_POSTCODE))
    )
    assert error.code == "ANSWERS_INCOMPLETE"
    assert "dateOfBirth" in error.message
    row = await kit.store.get_interaction("c-1")
    assert row is not None
    assert row.kba_attempts == 0


async def test_knowledge_check_is_unavailable_without_facts_on_record(kit: Kit) -> None:
    grace = {"type": "ACCOUNT", "value": "cus_grace"}
    kit.add_contact("c-2", ref_type="ACCOUNT", ref_value="cus_grace")
    await kit.service.submit_handoff(IVR, kit.key.sign(_claims("c-2", customer_ref=grace)))
    await kit.service.claim(AGENT_1, "c-2")

    error = await refusal(
        kit.service.verify_caller(AGENT_1, "c-2", KnowledgeAnswers(postcode="94105"))
    )
    assert error.code == "VERIFICATION_UNAVAILABLE"


# --- expiry ---------------------------------------------------------------------------------


async def test_interaction_expires_and_its_history_stays(store: Store) -> None:
    kit = await build_kit(store, InteractionSettings(expiry_seconds=600))
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))
    grant = await kit.service.claim(AGENT_1, "c-1")

    kit.clock.now += timedelta(seconds=601)

    error = await refusal(kit.service.claim(AGENT_1, "c-1"))
    assert (error.code, error.status) == ("INTERACTION_EXPIRED", 410)
    view = await kit.service.get(AGENT_1, "c-1")
    assert view is not None
    assert view.state is InteractionState.EXPIRED
    with pytest.raises(InteractionTokenError):
        await kit.service.authorise(grant.token, AGENT_1.principal)
    assert len(await kit.store.interaction_history(view.interaction_id)) == 2
