"""GraphiQL without the internet: strawberry's own page, its assets served by the gateway.

strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from unpkg.com, so on
a network without internet access it shows "Loading..." for ever. The gateway serves the very
files the page names (``static/``, from the npm registry, with their licences) under
``/graphiql/``, and the page keeps their ``integrity`` hashes, so the browser still checks
them. A strawberry upgrade that names other versions makes ``offline_graphiql_html`` refuse at
start-up rather than serve a page that loads half its assets.
"""

from __future__ import annotations

import re
from importlib.resources import files

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

#: Where the assets are served.
MOUNT = "/graphiql"

#: Each asset strawberry's page loads, by its unpkg.com URL, and the file serving it here.
ASSETS = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": (
        "react-dom.production.min.js"
    ),
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": (
        "plugin-explorer.umd.js"
    ),
}

_EXTERNAL = re.compile(r"""(?:src|href)=["'](https?://[^"']+)["']""")


class GraphiqlAssetsMissing(RuntimeError):
    """strawberry's page names an asset this gateway does not serve (an upgrade moved it)."""


def offline_graphiql_html(page: str) -> str:
    """``page`` (strawberry's GraphiQL page) loading every asset from ``/graphiql/``."""
    for url, name in ASSETS.items():
        page = page.replace(url, f"{MOUNT}/{name}")
    missing = _EXTERNAL.findall(page)
    if missing:
        raise GraphiqlAssetsMissing(
            "GraphiQL's page loads assets the gateway does not serve: "
            f"{', '.join(missing)} (see app/http/graphiql/static/README.md)"
        )
    return page


def graphiql_assets() -> Mount:
    """The ``/graphiql/`` mount: the page's assets, as package data."""
    directory = files("app.http.graphiql") / "static"
    return Mount(MOUNT, app=StaticFiles(directory=str(directory)), name="graphiql")
