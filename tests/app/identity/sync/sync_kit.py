"""What the tests of the identity sync over fake systems share: a full run with the given match
rules, and which rule linked each of a customer's records."""

from __future__ import annotations

from app.identity.settings import IdentitySettings, MatchRule
from app.identity.sync.report import SyncReport
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from kernel.identity import CustomerRecord
from kernel.models import Source
from tests.fake_systems import FakeSystems

DEFAULT_RULES = IdentitySettings()


async def sync(
    store: Store,
    systems: FakeSystems,
    rules: tuple[MatchRule, ...] = DEFAULT_RULES.match_rules,
) -> SyncReport:
    # Full passes: these tests are about linking; incremental reads are
    # tests/app/test_incremental_sync.py's.
    return await sync_identities(
        store,
        systems.by_source,
        IdentitySettings(match_rules=rules),
        full=True,
    )


def link_rules(customer: CustomerRecord) -> dict[Source, str]:
    return {link.source: link.matched_by for link in customer.links}
