"""Phased rollout of sources: each source's mode (off, shadow, pilot, on), supervisors'
changes kept in PostgreSQL, shadow reads compared with the system of record (docs/rollout.md).
"""
