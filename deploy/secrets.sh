#!/usr/bin/env bash
# The compose stack's secrets, made once under deploy/.state (kept out of git):
#   secrets/  what compose.yaml mounts under /run/secrets (SCV_* files are settings)
#   keys/     the bearer tokens' signing key pair, where `scv token` and `scv ivr-call`
#             look for it (SCV_DATA_DIR=deploy/.state/keys): the stand-in for an identity
#             provider, which in production holds the private key and publishes the public one.
# The files are readable by the containers' users (bind mounts keep the host's owner); the
# directory itself is the owner's only.
set -euo pipefail
state="${1:-$(cd "$(dirname "$0")" && pwd)/.state}"
secrets="$state/secrets" keys="$state/keys"
mkdir -p "$secrets" "$keys"
chmod 700 "$state"
umask 022

if [ ! -s "$keys/demo-signing-key.pem" ]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$keys/demo-signing-key.pem" 2>/dev/null
  openssl pkey -in "$keys/demo-signing-key.pem" -pubout -out "$keys/demo-signing-key.pub.pem"
fi
cp "$keys/demo-signing-key.pub.pem" "$secrets/SCV_AUTH__PUBLIC_KEY_PEM"

if [ ! -s "$secrets/interaction-signing-key.pem" ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$secrets/interaction-signing-key.pem"
fi
if [ ! -s "$secrets/postgres-password" ]; then
  openssl rand -hex 24 > "$secrets/postgres-password"
fi
printf 'postgresql://scv:%s@postgres:5432/scv\n' "$(cat "$secrets/postgres-password")" \
  > "$secrets/SCV_DATABASE_URL"
if [ ! -s "$secrets/SCV_CACHE__ENCRYPTION_KEY" ]; then
  openssl rand -base64 32 > "$secrets/SCV_CACHE__ENCRYPTION_KEY"
fi
chmod 644 "$secrets"/* "$keys"/*
