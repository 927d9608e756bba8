"""The gateway's benchmark: cost per query against the floor set by its upstreams.

``python -m bench`` (``make bench``, ``make bench-quick``) starts the sandbox with a fixed
latency per upstream call, an embedded PostgreSQL and the gateway in production mode, drives
it from a separate load process and writes ``bench/results/<timestamp>.json`` plus a markdown
table. See README.md, "Performance".
"""
