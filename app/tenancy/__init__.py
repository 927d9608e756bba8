"""Tenancy: which tenants (clients) the gateway serves, and which one a request acts for.

A tenant is a boundary for every record, key and credential (``kernel.tenancy``). The
configured tenants and the default one are this package's settings (``SCV_TENANCY__...``);
``selection`` decides a request's tenant from its principal's tenants claim and the tenant
header, and refuses it in GraphQL's shape when that is missing, ambiguous or not allowed.
"""
