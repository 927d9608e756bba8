#!/usr/bin/env bash
# Base images from Debian's packages, for machines with podman but no container registry.
#
# Each image is a bookworm root file system made by mmdebstrap and imported with
# `podman import`; its tag carries a hash of this folder, so an image is rebuilt only when
# what makes it changes, and a second run costs a few `podman image exists`.
# Prints, one per line, STACK_NAME=IMAGE for the images deploy/compose.yaml takes as variables.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite="${SCV_DEBIAN_SUITE:-bookworm}"
mirror="${SCV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
tag="$(cat "$0" "$here"/postgres-entrypoint.sh | sha256sum | cut -c1-12)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# build NAME PACKAGES [mmdebstrap options...] -- [podman import --change ...]: in the
# background (the five are made at once: mostly downloads and unpacking), its image's name
# into $work/NAME.image.
build() {
  _build "$@" > "$work/$1.image" &
}
_build() {
  local name="$1" packages="$2"; shift 2
  local image="localhost/scv-base-$name:$tag"
  if ! podman image exists "$image"; then
    local strap=() change=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do strap+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    for c in "$@"; do change+=(--change "$c"); done
    echo "building $image from Debian's $packages" >&2
    mmdebstrap --quiet --variant=minbase --include="$packages" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      "${strap[@]}" "$suite" "$work/$name.tar" "$mirror" >&2
    podman import --quiet "${change[@]}" "$work/$name.tar" "$image" >/dev/null
    rm -f "$work/$name.tar"
    # The same image of an earlier version of this folder is of no more use.
    podman images --format '{{.Repository}}:{{.Tag}}' "localhost/scv-base-$name" \
      | grep -v -x -F "$image" | xargs -r podman rmi --force >/dev/null 2>&1 || true
  fi
  echo "$image"
}

# The gateway's: python3.11 and venv (the Containerfile makes its virtual environment).
build python python3,python3-venv,ca-certificates -- 'CMD ["python3"]'

# PostgreSQL with an entry point that reads the official image's variables
# (POSTGRES_USER, POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_DB).
build postgres postgresql-15 \
  --customize-hook="copy-in $here/postgres-entrypoint.sh /usr/local/bin" \
  --customize-hook='chroot "$1" sh -c "mkdir -p /var/lib/postgresql/data /run/postgresql && chown postgres:postgres /var/lib/postgresql/data /run/postgresql && chmod 700 /var/lib/postgresql/data && chmod 755 /usr/local/bin/postgres-entrypoint.sh"' \
  -- 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  'ENV PGDATA=/var/lib/postgresql/data' 'USER postgres' \
  'ENTRYPOINT ["postgres-entrypoint.sh"]' 'CMD ["postgres"]' 'EXPOSE 5432'

build redis redis-server -- 'CMD ["redis-server", "--protected-mode", "no"]' 'EXPOSE 6379'
build haproxy haproxy -- 'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
build prometheus prometheus -- 'ENTRYPOINT ["prometheus"]'

for job in $(jobs -p); do
  wait "$job" || { echo "a base image failed to build" >&2; exit 1; }
done
for name in python postgres redis haproxy prometheus; do
  test -s "$work/$name.image" || { echo "no $name image" >&2; exit 1; }
done
cat <<VARS
STACK_BASE_IMAGE=$(cat "$work/python.image")
STACK_POSTGRES_IMAGE=$(cat "$work/postgres.image")
STACK_REDIS_IMAGE=$(cat "$work/redis.image")
STACK_LB_IMAGE=$(cat "$work/haproxy.image")
STACK_PROMETHEUS_IMAGE=$(cat "$work/prometheus.image")
VARS
