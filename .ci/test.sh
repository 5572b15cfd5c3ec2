#!/usr/bin/env bash
# The README's test command. On a fresh machine it installs what the tests
# need (clang and the BigQuery emulator build, chromium, tflint and tfsec), then runs
# every check with WEBHOOKS_STRICT=1 so a test whose emulator is missing
# fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
export WEBHOOKS_STRICT=1
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

step() { printf '\n== %s\n' "$*"; }

step "tools"
bash .ci/bigquery-emulator.sh
# The inspector's browser test drives Debian's chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium with apt-get (the inspector's browser test)" >&2
    apt-get update >/dev/null
    apt-get install -y chromium >/dev/null
  else
    echo "chromium is missing and apt-get is not available: install chromium, then rerun" >&2
    exit 1
  fi
fi
bash .ci/terraform-tools.sh tools
for emulator in pubsub-emulator cloud-firestore-emulator; do
  if ! ls "$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)/platform/$emulator" >/dev/null 2>&1; then
    echo "missing the Cloud SDK's $emulator (this machine image ships it with google-cloud-cli)" >&2
    exit 1
  fi
done

step "format and vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet ./...
# The functions deploy through a buildpack without cgo; only the test
# tooling (the BigQuery emulator) needs it.
CGO_ENABLED=0 go build ./...

step "terraform checks"
bash .ci/terraform-tools.sh check
# The real providers: from the registry where it is reachable, else the
# ones built from source beside this project (../shared/terraform-providers,
# see its README), through dev_overrides, which need no `terraform init`
# (`terraform get` installs the local module). The buildpack test in the
# repository root runs terraform too, so the setting is exported.
if [ -f ../shared/terraform-providers/setup.sh ]; then
  eval "$(bash ../shared/terraform-providers/setup.sh)"
  terraform -chdir=terraform get >/dev/null
  terraform -chdir=terraform/examples/all-patterns get >/dev/null
else
  terraform -chdir=terraform init -backend=false -input=false >/dev/null
  terraform -chdir=terraform/examples/all-patterns init -backend=false -input=false >/dev/null
fi
terraform -chdir=terraform validate -no-color
terraform -chdir=terraform test -no-color
# The example calls the module as a deployment of one's own would.
terraform -chdir=terraform/examples/all-patterns validate -no-color

step "tests"
go test -count=1 -timeout 45m ./...
# The deployed build leaves net/http's own HTTP/2 out (nethttpomithttp2,
# terraform/source.tf): FCM's SDK must still send over HTTP/2 built so.
go test -count=1 -tags nethttpomithttp2 -run '^TestTheSDKsOwnTransportSendsOverHTTP2$' ./functions/relay/fcmtest

step "interop: package verify against the providers' official SDKs"
# A module of its own (shared/verify/interop/go.mod), so neither the root
# module nor the deploy archives carry the SDKs: the root's ./... above
# does not reach it. Its interop_asymmetric_test.go needs -tags asymmetric
# until the sendgrid and discord presets exist.
(cd shared/verify/interop && go vet ./... && go test -count=1 ./...)

step "fuzz (a few seconds per target)"
# fuzz PKG TARGET: one run. Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" when -fuzztime ends while a worker is busy
# (go.dev/issue/75804, fixed in Go 1.27): no input failed and none is
# written. Only that case is run again, once; a failing input, a panic or
# a t.Fatal fails at once.
fuzz() {
  local out
  if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-4s}" "$1" 2>&1); then
    printf '%s\n' "$out"
    return 0
  fi
  printf '%s\n' "$out"
  if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
    echo "$2: the fuzzing coordinator's deadline race (go.dev/issue/75804), no failing input; running it again" >&2
    go test -run '^$' -fuzz "^$2\$" -fuzztime "${FUZZTIME:-4s}" "$1"
    return
  fi
  return 1
}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    fuzz "$pkg" "$target"
  done
done
