"""Writes back to the systems of record: the mutations' rules, their idempotency, and the
outbox that delivers them when a system is down (docs/writes.md)."""
