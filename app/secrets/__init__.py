"""Secrets read again from their files while the gateway runs (``SCV_SECRETS_DIR``).

A source's credentials and webhook secrets change at the vendor on the vendor's schedule;
the gateway takes the new value from the secret file (a mounted Kubernetes Secret, a compose
secret) without a restart: ``files.SecretFiles`` notices the file changed and tells whoever
watches that setting's section (the source's HTTP client, the webhook receiver).
"""
