"""The bounded, short-lived in-process tier in front of Redis."""

from __future__ import annotations

from app.cache.local import LocalTier
from tests.fakes import ManualClock


def test_beyond_its_size_the_least_recently_used_entry_goes() -> None:
    tier = LocalTier(max_entries=2, lifetime=60, clock=ManualClock(100.0))
    tier.put("a", 1)
    tier.put("b", 2)
    tier.get("a")  # "b" is now the least recently used
    tier.put("c", 3)
    assert (tier.get("a"), tier.get("b"), tier.get("c"), len(tier)) == (1, None, 3, 2)


def test_an_entry_is_gone_after_its_lifetime() -> None:
    clock = ManualClock(100.0)
    tier = LocalTier(max_entries=10, lifetime=2, clock=clock)
    tier.put("a", 1)
    clock.now += 1.9
    assert tier.get("a") == 1
    clock.now += 0.2
    assert tier.get("a") is None


def test_a_shorter_ttl_than_the_lifetime_wins() -> None:
    clock = ManualClock(100.0)
    tier = LocalTier(max_entries=10, lifetime=60, clock=clock)
    tier.put("a", 1, ttl=1)
    clock.now += 1.5
    assert tier.get("a") is None


def test_dropping_a_prefix_forgets_only_that_records_keys() -> None:
    tier = LocalTier(max_entries=10, lifetime=60, clock=ManualClock(100.0))
    tier.put("scv:billing:aaa:gen", 1)
    tier.put("scv:billing:aaa:g1:customer:", 2)
    tier.put("scv:billing:bbb:g0:customer:", 3)
    tier.drop_prefix("scv:billing:aaa:")
    assert (tier.get("scv:billing:aaa:gen"), tier.get("scv:billing:bbb:g0:customer:")) == (None, 3)
