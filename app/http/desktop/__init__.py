"""The agent desktop: one page (HTML, a vanilla JS module, CSS) served by the gateway at
``/desktop``, a reference client of the public GraphQL API (``routes.py`` serves it)."""
