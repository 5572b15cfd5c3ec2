#!/usr/bin/env bash
# The measurements of docs/performance.md: `make bench`. Go benchmarks side by side with
# the peers the issues name, cold starts of the functions as deployed
# beside a hello-world function, each function's cost inputs and peak RSS
# under load, then load runs against the local runner. Figures vary with the
# machine; docs/performance.md records runs on the 2-core CI machine type.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
BENCHTIME="${BENCHTIME:-1s}"

step() { printf '\n== %s\n' "$*"; }

step "verification: ours beside stripe-go, standard-webhooks and bare crypto/hmac"
# The SDKs are requirements of the interop module only (shared/verify/interop).
(cd shared/verify/interop && go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME")
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

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

step "cold start: each function built from its deploy archive as the buildpack builds it, beside hello-world"
# terraform writes the deploy archives. Providers as in test.sh: the ones
# built beside this project unless TF_CLI_CONFIG_FILE names a file (some
# machines set it to a ~/.terraformrc that does not exist), else the
# registry's; a dev_overrides configuration needs no `terraform init`.
if [ ! -f "${TF_CLI_CONFIG_FILE:-}" ] && [ -f ../shared/terraform-providers/setup.sh ]; then
  eval "$(bash ../shared/terraform-providers/setup.sh)"
fi
if ! grep -qs dev_overrides "${TF_CLI_CONFIG_FILE:-}"; then
  terraform -chdir=terraform init -backend=false -input=false >/dev/null
fi
mkdir "$work/deployed"
WEBHOOKS_BENCH_BIN="$work/deployed" go test -count=1 -run '^$' -bench ColdStart -benchtime 10x .

step "cost inputs: CPU, wall time and log bytes per 2 KiB webhook, c1 and c80, beside a bare net/http + HMAC binary"
# docs/performance.md turns these into the cost of a million webhooks. The
# binaries are the ones just built; Store writes to the BigQuery emulator,
# Trigger publishes to the Pub/Sub emulator, Relay records (dry run).
WEBHOOKS_BENCH_BIN="$work/deployed" go test -count=1 -run '^$' -bench PerWebhook -benchtime "${COST_REQUESTS:-3000}x" .

step "memory under load: 80 concurrent 64 KiB webhooks, each function with its deployed Go runtime settings and with Go's default"
# The binaries just built, started with the runtime environment terraform
# gives the instances (GOMEMLIMIT=36MiB for Store, terraform/store.tf),
# beside Go's default for Store and GOGC=50 for the others.
WEBHOOKS_BENCH_BIN="$work/deployed" go test -count=1 -run '^$' -bench MemoryUnderLoad -benchtime "${LOAD_REQUESTS:-20000}x" .

step "load: 80 concurrent 64 KiB Store requests through the local runner"
go build -o "$work/local" ./functions/cmd/local
go build -o "$work/send" ./functions/cmd/send
export WEBHOOKS_SECRETS_DIR="$work/secrets" WEBHOOKS_DATA_DIR="$work/data" LOG_LEVEL=warn

# wait_port PORT PID LOG: wait until PID (still running: a stale process
# on the port must not stand in for it) listens on PORT.
wait_port() {
  for _ in $(seq 300); do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "process $2 exited before listening on port $1:" >&2
      cat "$3" >&2
      return 1
    fi
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# load PORT LABEL BIN URL_PATH [VAR=value...]: start BIN with the given
# environment, send the 64 KiB and then the sample-sized run to the Store
# it serves at URL_PATH, print its peak RSS, stop it.
load() {
  local port=$1 label=$2 bin=$3 path=$4
  shift 4
  env GOOGLE_CLOUD_PROJECT= PORT="$port" "$@" "$bin" >"$work/server-$port.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port" "$pid" "$work/server-$port.log"
  echo "-- $label"
  "$work/send" -url "http://127.0.0.1:$port$path" -n "${LOAD_REQUESTS:-20000}" -c 80 -size 65536 store/github
  echo "peak RSS (VmHWM): $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
  "$work/send" -url "http://127.0.0.1:$port$path" -n "${LOAD_REQUESTS:-20000}" -c 80 store/github
  kill "$pid"
}

# large PORT LABEL [VAR=value...]: a fresh runner (its peak RSS is its own)
# under 8 concurrent signed 20 MiB events, every body above the 8 MiB a row
# carries; prints its peak RSS, stops it.
large() {
  local port=$1 label=$2
  shift 2
  env GOOGLE_CLOUD_PROJECT= PORT="$port" "$@" "$work/local" >"$work/local-$port.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_port "$port" "$pid" "$work/local-$port.log"
  echo "-- $label: 8 concurrent 20 MiB events"
  "$work/send" -url "http://127.0.0.1:$port/store" -n "${LARGE_REQUESTS:-16}" -c 8 -size $((20 << 20)) store/github
  echo "peak RSS of the runner: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)"
  kill "$pid"
}

load 18080 "Store to the local sink: the local runner (make run)" "$work/local" /store
large 18084 "Store to the local sink, payloads to files"

# The same through the Storage Write API, to the BigQuery emulator, with
# the payload bucket on fake-gcs-server (the module's test dependency, run
# as its own process: neither is counted in the runner's RSS).
emulator=$(bash .ci/bigquery-emulator.sh)
"$emulator" --project=webhooks-bench --host=127.0.0.1 --port=19050 --grpc-port=19060 --log-level=error >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_port 19050 $! "$work/emulator.log"
wait_port 19060 $! "$work/emulator.log"
go build -o "$work/fake-gcs-server" github.com/fsouza/fake-gcs-server
"$work/fake-gcs-server" -scheme http -host 127.0.0.1 -port 19070 -backend memory -log-level error >"$work/gcs.log" 2>&1 &
pids+=($!)
wait_port 19070 $! "$work/gcs.log"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"name":"webhooks-bench-payloads"}' 'http://127.0.0.1:19070/storage/v1/b?project=webhooks-bench'
bigquery=(BIGQUERY_PROJECT=webhooks-bench BIGQUERY_EMULATOR_HOST=127.0.0.1:19050 BIGQUERY_STORAGE_EMULATOR_HOST=127.0.0.1:19060
  STORE_PAYLOAD_BUCKET=webhooks-bench-payloads STORAGE_EMULATOR_HOST=127.0.0.1:19070)
load 18081 "Store to BigQuery (emulator) through the Storage Write API: the local runner" "$work/local" /store "${bigquery[@]}"
large 18085 "Store to BigQuery (emulator), payloads to Cloud Storage (fake-gcs-server)" "${bigquery[@]}"
