#!/usr/bin/env bash
# The compose stack of deploy/compose.yaml: `make up`, `make down`, `make test-deploy`.
#
#   deploy/stack.sh up      secrets, images, PostgreSQL and Redis, migrations (their own run),
#                           the sandbox and a first sync (demo profile), then two gateway
#                           replicas, the load balancer and Prometheus; waits until the load
#                           balancer answers /readyz
#   deploy/stack.sh down    stops and removes the containers (KEEP_DATA=0 also the volumes)
#   deploy/stack.sh test    down, up, the tests of tests/deploy/live, down: whatever happens
#
# Where a Docker engine answers, `docker compose` with the upstream images; otherwise podman
# (installed from Debian's packages if missing) with its own containers.conf (the runc
# runtime, no default ulimits) and base images built from Debian's packages.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
action="${1:?usage: stack.sh up|down|test}"
if [ "$action" = test ]; then
  # Ports of their own, so that a `make run` (8000, 8100) or a `make up` on the machine
  # does not stand in the way.
  export STACK_LB_PORT="${STACK_LB_PORT:-18080}" STACK_SANDBOX_PORT="${STACK_SANDBOX_PORT:-18100}"
  export STACK_PROMETHEUS_PORT="${STACK_PROMETHEUS_PORT:-19090}"
fi
export STACK_LB_PORT="${STACK_LB_PORT:-8080}" STACK_SANDBOX_PORT="${STACK_SANDBOX_PORT:-8100}"
profiles=(--profile demo)

if [ -n "${STACK_ENGINE:-}" ]; then
  engine="$STACK_ENGINE"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
else
  engine=podman
fi

if [ "$engine" = podman ]; then
  # This machine's podman: runc (crun refuses a hybrid cgroup layout) and no default
  # ulimits (raising RLIMIT_NOFILE is not permitted in every sandbox).
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/podman/containers.conf}"
  if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null \
      || ! command -v iptables >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      podman runc netavark aardvark-dns iptables uidmap slirp4netns fuse-overlayfs \
      mmdebstrap ca-certificates >/dev/null
  fi
  compose=(podman-compose)
  [ -x "$root/.venv/bin/podman-compose" ] && compose=("$root/.venv/bin/podman-compose")
  export STACK_GATEWAY_IMAGE="${STACK_GATEWAY_IMAGE:-localhost/scv-gateway:latest}"
  export STACK_SANDBOX_IMAGE="${STACK_SANDBOX_IMAGE:-localhost/scv-sandbox:latest}"
else
  compose=(docker compose)
fi
compose+=(-f "$here/compose.yaml")

stack() { "${compose[@]}" "${profiles[@]}" "$@"; }

# start SERVICE...: `up -d`, printing only what went wrong (podman-compose prints each name,
# and podman a line for each healthcheck it cannot hand to systemd).
start() {
  stack up -d "$@" 2>&1 | grep -v -e 'level=error' -e '^scv[_-]' -e 'failed to connect to syslog' \
    -e '^[0-9a-f]\{64\}$' || true
}

down() {
  local volumes=()
  [ "${KEEP_DATA:-1}" = 0 ] && volumes=(-v)
  # Quiet: the compose tool names every container it stops, and those it did not find.
  "${compose[@]}" --profile demo --profile jobs --profile grafana down "${volumes[@]}" \
    >/dev/null 2>&1 || true
}

images() {
  if [ "$engine" = docker ]; then
    stack build
    return
  fi
  local var
  while IFS= read -r var; do export "${var?}"; done < <("$here/images/build-base-images.sh")
  local cert=()
  local bundle="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
  # pip in the build reads the host's CA bundle, for networks that intercept TLS.
  [ -s "$bundle" ] && cert=(--secret "id=pip_cert,src=$bundle")
  local target image
  for target in gateway sandbox; do
    image="$STACK_GATEWAY_IMAGE"
    [ "$target" = sandbox ] && image="$STACK_SANDBOX_IMAGE"
    echo "building $image (target $target)"
    podman build --quiet --format docker --layers -f "$here/Containerfile" --target "$target" \
      --build-arg "BASE_IMAGE=$STACK_BASE_IMAGE" "${cert[@]}" -t "$image" "$root" >/dev/null
  done
  # The images these builds replaced, untagged now.
  podman image prune --force >/dev/null
}

# wait_for SECONDS WHAT COMMAND...: run COMMAND until it succeeds, at most SECONDS.
wait_for() {
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$what: not ready after $seconds s" >&2
      return 1
    fi
    sleep 1
  done
}

up() {
  "$here/secrets.sh"
  images
  echo "starting PostgreSQL, Redis and the sandbox"
  start postgres redis sandbox
  echo "migrating the store (scv migrate)"
  wait_for 90 "scv migrate" stack --profile jobs run --rm migrate \
    || { stack --profile jobs run --rm migrate; return 1; }
  echo "first sync from the sandbox (scv sync)"
  wait_for 60 "the sandbox" curl -fsS "http://127.0.0.1:$STACK_SANDBOX_PORT/billing/openapi.json"
  stack --profile jobs run --rm sync >/dev/null 2>&1 \
    || { echo "scv sync failed" >&2; stack --profile jobs run --rm sync; return 1; }
  echo "starting two gateway replicas, the load balancer and Prometheus"
  start
  wait_for 90 "the load balancer" curl -fsS "http://127.0.0.1:$STACK_LB_PORT/readyz"
  echo "ready: http://127.0.0.1:$STACK_LB_PORT/graphql (tokens: SCV_DATA_DIR=deploy/.state/keys .venv/bin/scv token --role agent)"
}

case "$action" in
  up) up ;;
  down) down ;;
  test)
    started=$SECONDS
    KEEP_DATA=0 down
    trap 'KEEP_DATA=0 down; echo "test-deploy: $((SECONDS - started)) s"' EXIT
    up
    DEPLOY_STACK_TESTS=1 STACK_ENGINE="$engine" "$root/.venv/bin/python" -m pytest \
      -p no:cacheprovider "$root/tests/deploy/live" \
      || { echo "the load balancer's log (errors and retries only):"; stack logs lb 2>&1 | tail -40
           exit 1; } ;;
  *) echo "usage: stack.sh up|down|test" >&2; exit 2 ;;
esac
