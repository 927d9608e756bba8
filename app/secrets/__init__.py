"""Secrets read again from their files while the gateway runs (``SCV_SECRETS_DIR``).

A source's credentials and webhook secrets change at the vendor on the vendor's schedule;
the gateway takes the new value from the secret file (a mounted Kubernetes Secret, a compose
secret) without a restart: ``files.SecretFiles`` notices the file changed and tells whoever
watches that setting's section (the source's HTTP client, the webhook receiver).

Any section is watched by its path of names, so a section nested deeper (a tenant's own
source section, ``("tenants", "acme", "billing")`` read from ``SCV_TENANTS__ACME__BILLING__
API_KEY``) reloads the same way: its adapter is opened with
``app.wiring.sources.section_watch(secret_files, path, section)`` as its ``Connection``'s
``watch_section``.
"""
