"""The one place that speaks SQL to a system of record: SQLAlchemy's async Core.

A database source (the legacy orders database) reads through ``UpstreamDatabase``
(``calls.py``), which gives its queries what ``adapters.http`` gives HTTP calls: the request's
deadline, a statement timeout, the source's ``CallPolicy`` (retries, breaker, bulkhead), the
upstream observer (metrics, health) and one translation of failures into the kernel's error
tree (``errors.py``). The engine and its pool are built from the section's settings
(``engine.py``, ``settings.py``); the configured tables and columns are checked once at
start-up (``schema.py``). Any dialect SQLAlchemy has a driver for works: asyncpg for
PostgreSQL and aiosqlite for SQLite are the project's dependencies.
"""
