"""Integration KPIs for operations leaders (``Query.integrationKpis``, docs/rollout.md)."""
