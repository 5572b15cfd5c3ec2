#!/usr/bin/env bash
# The README's measurements: `make bench`. Go benchmarks side by side with
# the peers the issues name, then load runs against the local runner with
# its peak RSS. Figures vary with the machine; the README records one run
# on the 2-core CI machine type.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
BENCHTIME="${BENCHTIME:-1s}"

step() { printf '\n== %s\n' "$*"; }

step "verification: ours beside stripe-go, standard-webhooks and bare crypto/hmac"
go test ./shared/verify -run '^$' -bench . -benchmem -benchtime "$BENCHTIME"

step "secrets: a warm cache makes no Secret Manager call"
go test ./shared/secrets -run '^$' -bench . -benchmem -benchtime "$BENCHTIME"

step "pipeline overhead: the whole pipeline beside a bare HMAC handler, 80 concurrent"
go test ./shared/pipeline -run '^$' -bench Overhead -benchmem -benchtime "$BENCHTIME"

step "store: group commit against the BigQuery emulator, 80 concurrent"
go test ./functions/store -run '^$' -bench . -benchmem -benchtime "$BENCHTIME"

step "relay: FCM sends through the real client, rule rendering"
go test ./functions/relay -run '^$' -bench . -benchmem -benchtime "$BENCHTIME"

step "trigger: rule matching, async acknowledgement"
go test ./functions/trigger -run '^$' -bench . -benchmem -benchtime "$BENCHTIME"

step "load: the local runner under 80 concurrent 64 KiB Store requests"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/local" ./functions/cmd/local
go build -o "$work/send" ./functions/cmd/send
port=18080
PORT=$port WEBHOOKS_SECRETS_DIR="$work/secrets" WEBHOOKS_DATA_DIR="$work/data" LOG_LEVEL=warn \
  GOOGLE_CLOUD_PROJECT= "$work/local" >"$work/local.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done
WEBHOOKS_SECRETS_DIR="$work/secrets" "$work/send" -url "http://127.0.0.1:$port/store" -n "${LOAD_REQUESTS:-20000}" -c 80 -size 65536 store/github
echo "peak RSS of the runner: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
WEBHOOKS_SECRETS_DIR="$work/secrets" "$work/send" -url "http://127.0.0.1:$port/store" -n "${LOAD_REQUESTS:-20000}" -c 80 store/github
