"""Runnable stand-ins for the four systems of record: billing, CRM, support and IVR.

The outside world as the gateway sees it: one Starlette app (``sandbox.server``) serving a
Stripe-, HubSpot-, Zendesk- and Amazon Connect-shaped API over a deterministic in-memory
dataset, with injectable faults and request statistics. ``sandbox/README.md`` is the
contract the adapters are written against.
"""
